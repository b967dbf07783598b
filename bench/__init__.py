"""Load testing and benchmarking for SageMaker-hosted Triton and streaming endpoints."""

__version__ = "0.1.0"
