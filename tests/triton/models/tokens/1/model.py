"""Streams max_tokens (default 8) tokens " w<i>", one response each, token_ms apart."""

import json
import os
import sys
import time

sys.path.insert(0, os.environ["BENCH_TRITON_PYDEPS"])

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        parameters = json.loads(args["model_config"]).get("parameters", {})
        self.token_s = float(parameters.get("token_ms", {}).get("string_value", "20")) / 1000.0

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            limit = pb_utils.get_input_tensor_by_name(request, "max_tokens")
            count = int(limit.as_numpy().reshape(-1)[0]) if limit is not None else 8
            for index in range(count):
                time.sleep(self.token_s)
                text = np.array([f" w{index}".encode()], dtype=object)
                sender.send(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("text_output", text)]))
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
