"""The set-up part: the harness's options, the configuration checked before any load, the emulator.

On the local process and the master, ``init`` parses the configuration once, encodes the payload
(bad options or data: one line on stderr and exit code 2, before anything starts), starts the
built-in emulator when no endpoint is given (its own process, stopped at exit), and installs the
stepped load of a capacity run. Workers get the options, the emulator's URL with them, from the master.
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any

from bench.options import add_options, needs_emulator
from bench.plugin.session import EMULATOR_URL, Session
from bench.plugin.steps import StepsPart
from bench.plugin.workload import WorkloadPart


def add_harness_options(parser: Any, **_: Any) -> None:
    add_options(parser, locust=True)


class SetupPart:
    def __init__(self, session: Session, workload: WorkloadPart, steps: StepsPart) -> None:
        self.session = session
        self._workload = workload
        self._steps = steps

    def prepare(self) -> None:
        """Master/local: validate everything, then start what the run needs. Raises ConfigError."""
        session = self.session
        if session.is_worker:
            return
        values = session.values()
        self._workload.encode(session.config())  # fails before anything starts
        if needs_emulator(values):
            self.start_emulator(values.get("emulator_config"))
        config = session.config()
        emulator = session.emulator
        if emulator is not None:
            reason = "" if values.get("emulator_config") else "no endpoint given; "
            print(
                f"bench: {reason}started the built-in emulator at {emulator.url} "
                f"(endpoints: {', '.join(emulator.endpoints)}; pid {emulator.pid}); "
                f"targeting {config.endpoint.name}",
                flush=True,
            )
        self._steps.install()
        session.environment.stop_timeout = config.drain_s  # Locust waits that long for tasks in flight
        if not session.is_master:  # opening the transports checks region and credentials before any load
            self._workload.build()

    def start_emulator(self, config_file: str | None) -> None:
        from bench.emulator.process import start_emulator

        emulator = self.session.emulator = start_emulator(Path(config_file) if config_file else None)
        atexit.register(self.stop_emulator)
        setattr(self.session.environment.parsed_options, EMULATOR_URL, emulator.url)

    def stop_emulator(self) -> None:
        if self.session.emulator is not None:
            self.session.emulator.stop()
            self.session.emulator = None
