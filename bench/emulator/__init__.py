"""A loopback SageMaker runtime double with simulated Triton models (aiohttp).

Unmodified boto3 ``sagemaker-runtime`` pointed at it with ``endpoint_url`` behaves as against AWS:
success responses parse, errors raise the modeled exceptions with their fields (PROTOCOLS.md 1).

Modules, one job each:

- ``config``: the TOML schema (documented there) -> frozen ``EmulatorConfig``; ``modelconfig``: its
  ``[[endpoint.model]]`` sections; ``tomltable``: checked table reading; ``render``: back to TOML.
- ``awserrors``: every AWS error response, keyed by shape name.
- ``tritonmessages``: Triton's error texts, in one place.
- ``models``: simulated Triton models (validate like Triton, compute real outputs).
- ``capacity``: slots, queue limit and service time; ``endpoint``: one endpoint's per-request logic.
- ``server``: the aiohttp app, ``build_app``, ``serve``, ``render_config``; ``__main__``: the CLI.
- ``process``: ``start_emulator`` runs the emulator as a child process for tests and the harness.

This package is a leaf: it shares only ``bench.payload``, ``bench.config`` and ``bench.errors``.
Importing it (or ``bench.emulator.process``) has no side effects and does not import aiohttp.
"""
