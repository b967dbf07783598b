"""What the parts of the glue share in one process: its role, the configuration, the current run.

One ``Session`` per Locust process, made at ``init``. The configuration is parsed once per set of
option values (``config``): at start-up, and again only when the web UI's start form changed a value
between runs. The run's phase is explicit: ``run`` is None until the first test starts, then the
``Run`` of the latest test (``bench.plugin.run``), whose ``ended`` says whether it is over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

from bench.config import RunConfig
from bench.errors import ConfigError
from bench.options import option_values, run_config_from_options, with_endpoint_url

if TYPE_CHECKING:
    from bench.emulator.process import EmulatorProcess
    from bench.plugin.run import Run
    from bench.shapes import StepLoadShape

logger = logging.getLogger("bench")
LOCAL, MASTER, WORKER = "local", "master", "worker"
EMULATOR_URL = "bench_emulator_url"  # set on parsed_options by the master; Locust ships it to workers
# The master quits after this stop (SIGTERM, Ctrl-C): a worker exits once its last batch is shipped.
# Locust's own quit message cannot reach it: a stopped worker's message loop sleeps --stop-timeout
# before it registers again, and the master no longer counts it among its workers meanwhile.
QUIT_AFTER_STOP = "bench_quit_after_stop"


@dataclass(eq=False)
class Session:
    environment: Environment
    runner: Runner
    role: str = ""  # LOCAL, MASTER or WORKER; from the runner's type when not given
    emulator: EmulatorProcess | None = None
    shape: StepLoadShape | None = None
    run: Run | None = None
    # A rate-stepped run's new rate (requests per second, the whole run's) from now on: set by the
    # arrivals part (local: the pacer; master: to every worker), called by the steps part.
    on_rate: Callable[[float], None] = lambda rate_per_s: None
    _config: RunConfig | None = field(default=None, repr=False)
    _values: dict[str, Any] | None = field(default=None, repr=False)
    _refused: dict[str, Any] | None = field(default=None, repr=False)  # values last refused at a test start

    def __post_init__(self) -> None:
        if not self.role:
            if isinstance(self.runner, WorkerRunner):
                self.role = WORKER
            else:
                self.role = MASTER if isinstance(self.runner, MasterRunner) else LOCAL

    @property
    def is_worker(self) -> bool:
        return self.role == WORKER

    @property
    def is_master(self) -> bool:
        return self.role == MASTER

    def values(self) -> dict[str, Any]:
        return option_values(self.environment.parsed_options)

    @property
    def emulator_url(self) -> str | None:
        return getattr(self.environment.parsed_options, EMULATOR_URL, None)

    def config(self) -> RunConfig:
        """The configuration of the options as they are now, parsed once for each set of values.

        Raises ConfigError. An emulated endpoint gets the emulator's URL once it listens (on workers,
        the URL the master shipped with the options).
        """
        values = self.values()
        if self._config is None or values != self._values:
            self._config, self._values = run_config_from_options(values), values
        config, url = self._config, self.emulator_url
        if config.endpoint.emulated and url and config.endpoint.endpoint_url != url:
            self._config = config = with_endpoint_url(config, url)
        return config

    def config_for_test(self) -> RunConfig | None:
        """``config`` at a test's start; None when the options (changed in the web UI's form) are bad:
        then the error is logged once, as one line, and the run is stopped before any load."""
        try:
            return self.config()
        except ConfigError as exc:
            values = self.values()
            if values != self._refused:
                self._refused = values
                logger.error("error: %s", exc)
            gevent.spawn_later(0, self.runner.stop)
            return None

    def await_previous_run(self, timeout_s: float = 65.0) -> None:
        """A test starting while the last one still drains (the web UI's Stop, then Start): the last one
        finishes first (its rows, its reports), so each run's files hold its own requests only."""
        run = self.run
        if run is not None and not run.ended:
            logger.info(
                "the previous run is still finishing (its drain and reports): the next starts after it"
            )
            run.finished.wait(timeout=timeout_s + run.config.drain_s)

    def max_users(self) -> int:
        """The most users the run may start at once: the top step of a stepped run, else -u (or the
        web UI's count). A Locust worker runs a share of it; sized for all, its pool is never short."""
        options = self.environment.parsed_options
        users = max(
            int(getattr(options, "num_users", 0) or 0), int(getattr(self.runner, "target_user_count", 0) or 0)
        )
        config = self._config
        if config is not None and config.capacity is not None and config.capacity.steps:
            users = max(users, *config.capacity.steps)
        return users
