"""Each OUT_<TYPE> echoes IN_<TYPE> (the emulator's identity model)."""

import os
import sys

sys.path.insert(0, os.environ["BENCH_TRITON_PYDEPS"])

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        import json

        config = json.loads(args["model_config"])
        self.names = [(i["name"], o["name"]) for i, o in zip(config["input"], config["output"], strict=True)]

    def execute(self, requests):
        responses = []
        for request in requests:
            outputs = [
                pb_utils.Tensor(out, pb_utils.get_input_tensor_by_name(request, inp).as_numpy())
                for inp, out in self.names
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
