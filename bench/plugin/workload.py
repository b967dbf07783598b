"""The workload part: encoded bodies and one shared transport per process, for the users to send.

Bodies are encoded once per configuration (at start-up on the master or local process, where they
also validate the payload before any load; on a worker when the master starts it). The transports
open at test start with a pool sized for the most users the run may start (``Session.max_users``),
and are reused by later runs while the configuration holds and the pool is large enough.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust.env import Environment

from bench.config import RunConfig, pool_size
from bench.errors import ConfigError
from bench.payload.llm import build_stream_bodies
from bench.payload.pool import build_requests
from bench.payload.triton import EncodedRequest
from bench.plugin.session import Session
from bench.transport import make_stream_transport, make_transport
from bench.users import (
    SageMakerStreamingUser,
    SageMakerTritonUser,
    StreamWorkload,
    TensorWorkload,
    attach_workload,
)

logger = logging.getLogger("bench")
Encoded = tuple[tuple[EncodedRequest, ...], tuple[bytes, ...]]


class WorkloadPart:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.tensor: TensorWorkload | None = None
        self.stream: StreamWorkload | None = None
        self._encoded: tuple[RunConfig, Encoded] | None = None
        self._built: tuple[RunConfig, int] | None = None  # the configuration and pool size of the transports

    def register(self, environment: Environment) -> None:
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.test_stopping.add_listener(self.on_test_stopping)

    def kinds(self) -> tuple[bool, bool]:
        """Whether tensor users and streaming users take part in this run."""
        classes = list(self.session.environment.user_classes or [])
        return (
            any(issubclass(c, SageMakerTritonUser) for c in classes),
            any(issubclass(c, SageMakerStreamingUser) for c in classes),
        )

    def encode(self, config: RunConfig) -> Encoded:
        """The encoded tensor requests and stream bodies the run's users need (once per config).
        Raises ConfigError."""
        if self._encoded is not None and self._encoded[0] == config:
            return self._encoded[1]
        tensors, streams = self.kinds()
        requests = build_requests(config.payload) if tensors else ()
        bodies: tuple[bytes, ...] = ()
        if streams and config.stream is not None:
            if config.endpoint.container_url:
                raise ConfigError(
                    "streaming users cannot use --container-url yet; run only the tensor user "
                    "(name its class on the command line) or use --endpoint-url"
                )
            stream = config.stream
            bodies = build_stream_bodies(
                stream.prompts, stream.payload_file, stream.stream_format, stream.max_tokens
            )
        self._encoded = (config, (requests, bodies))
        return requests, bodies

    def build(self) -> None:
        """Open the transports for the current configuration (kept while it and the pool size hold)."""
        config = self.session.config()
        pool = pool_size(self.session.max_users())
        if self._built is not None and self._built[0] == config and self._built[1] >= pool:
            return
        requests, bodies = self.encode(config)
        self.close()
        users = self.session.max_users()
        if requests:
            transport = make_transport(config.endpoint, config.transport, users=users)
            self.tensor = TensorWorkload(config=config, requests=requests, transport=transport)
            attach_workload(self.session.environment, self.tensor)
        if bodies and config.stream is not None:
            transport = make_stream_transport(config.stream.endpoint, config.transport, users=users)
            self.stream = StreamWorkload(spec=config.stream, bodies=bodies, transport=transport)
            attach_workload(self.session.environment, self.stream)
        self._built = (config, pool)

    def close(self) -> None:
        for workload in (self.tensor, self.stream):
            if workload is not None:
                workload.transport.close()
        self.tensor = self.stream = None
        self._built = None

    def on_test_stopping(self, **_: Any) -> None:
        """The drain begins: no user starts a new request; those in flight may finish (``--drain``)."""
        for workload in (self.tensor, self.stream):
            if workload is not None:
                workload.draining = True

    def on_test_start(self, **_: Any) -> None:
        if self.session.is_master or self.session.config_for_test() is None:  # the master sends no requests
            return
        try:
            self.build()
            for workload in (self.tensor, self.stream):
                if workload is not None:
                    workload.draining = False
        except ConfigError as exc:  # e.g. no region for a real endpoint
            logger.error("error: %s", exc)
            gevent.spawn_later(0, self.session.runner.stop)
