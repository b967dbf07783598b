"""Payloads: tensors from specs and files, Triton's binary+json codecs, the pool of encoded requests.

Pure: no Locust or boto3. Modules are imported by name (``bench.payload.pool``,
``bench.payload.triton``, ``bench.payload.triton_wire``) so that the emulator, which needs only the
wire codec, never loads tritonclient's HTTP client (and with it gevent).
"""
