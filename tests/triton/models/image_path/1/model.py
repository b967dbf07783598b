"""s3://bucket/images/cat.jpg -> <output_prefix>cat.json (the emulator's image_path model)."""

import json
import os
import sys

sys.path.insert(0, os.environ["BENCH_TRITON_PYDEPS"])

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        parameters = json.loads(args["model_config"]).get("parameters", {})
        self.prefix = parameters.get("output_prefix", {}).get("string_value", "").encode()

    def execute(self, requests):
        responses = []
        for request in requests:
            uris = pb_utils.get_input_tensor_by_name(request, "IMAGE_PATH").as_numpy()
            results = np.empty(uris.shape, dtype=object)
            for index, uri in enumerate(uris.reshape(-1)):
                filename = bytes(uri).rpartition(b"/")[2]
                stem = filename.rsplit(b".", 1)[0] if b"." in filename[1:] else filename
                results.reshape(-1)[index] = self.prefix + stem + b".json"
            responses.append(
                pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("LABEL_PATH", results)])
            )
        return responses
