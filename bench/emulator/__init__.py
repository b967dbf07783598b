"""A loopback SageMaker runtime double with simulated Triton models and streaming LLMs (aiohttp).

Unmodified boto3 ``sagemaker-runtime`` pointed at it with ``endpoint_url`` behaves as against AWS:
success responses parse, errors raise the modeled exceptions with their fields (PROTOCOLS.md 1),
and InvokeEndpointWithResponseStream yields PayloadParts from a chunked AWS event stream (PROTOCOLS.md 2).

Modules, one job each:

- ``config``: the TOML schema (documented there) -> frozen ``EmulatorConfig``; ``modelconfig``: its
  ``[[endpoint.model]]`` sections; ``llmconfig``: its ``[endpoint.llm]`` and ``[endpoint.stream_faults]``;
  ``distributions``: time and count distributions; ``tomltable``: checked table reading;
  ``render``: back to TOML.
- ``awserrors``: every AWS error response, keyed by shape name.
- ``tritonmessages``: Triton's error texts, in one place.
- ``models``: simulated Triton models (validate like Triton, compute real outputs).
- ``capacity``: slots and queue limits; ``routing``: what every endpoint kind shares per request;
  ``endpoint``: a Triton endpoint's per-request logic; ``llmendpoint``: an LLM endpoint's.
- ``llmformats``: the LLM container's request body, tokens and stream formats (ndjson, tgi, openai,
  triton); ``llmstream``: events into PayloadParts (split, merge) and the token clock.
- ``server``: the aiohttp app, ``build_app``, ``serve``, ``render_config``; ``__main__``: the CLI.
- ``process``: ``start_emulator`` runs the emulator as a child process for tests and the harness.

This package is a leaf: it shares only ``bench.payload``, ``bench.config`` and ``bench.errors``.
Importing it (or ``bench.emulator.process``) has no side effects and does not import aiohttp.
"""
