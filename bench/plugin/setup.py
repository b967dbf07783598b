"""The set-up part: the harness's options, the configuration checked before any load, the emulator.

On the local process and the master, ``init`` parses the configuration once, encodes the payload
(bad options or data: one line on stderr and exit code 2, before anything starts), starts the
built-in emulator when no endpoint is given (its own process, stopped at exit), and installs the
stepped load of a capacity run. Workers get the options, the emulator's URL with them, from the master.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.config import DEFAULT_ARRIVAL_USERS, RunConfig
from bench.emulatorcheck import check_emulator_targets
from bench.errors import ConfigError
from bench.options import add_options, needs_emulator, run_config_from_options
from bench.plugin.cpus import pin_emulator_apart
from bench.plugin.session import EMULATOR_URL, Session
from bench.plugin.steps import StepsPart
from bench.plugin.workload import WorkloadPart
from bench.users import SageMakerStreamingUser, SageMakerTritonUser


def add_harness_options(parser: Any, **_: Any) -> None:
    add_options(parser, locust=True)


class SetupPart:
    def __init__(self, session: Session, workload: WorkloadPart, steps: StepsPart) -> None:
        self.session = session
        self._workload = workload
        self._steps = steps
        self._pinned = ""  # the emulator and the load generator on cores of their own (bench.plugin.cpus)

    def prepare(self) -> None:
        """Master/local: validate everything, then start what the run needs. Raises ConfigError."""
        session = self.session
        if session.is_worker:
            return
        values = session.values()
        config = session.config()
        options = session.environment.parsed_options  # Locust's -t and -u against --warmup and --steps
        run_config_from_options(
            values,
            run_time_s=getattr(options, "run_time", None),
            users_given=getattr(options, "num_users", None) is not None,
        )
        self._users_with_endpoints(values)
        self._workload.encode(config)  # fails before anything starts
        if needs_emulator(values):
            tensors, streams = self._workload.kinds()
            check_emulator_targets(config, values.get("emulator_config"), invoke=tensors, stream=streams)
        if needs_emulator(values):
            self.start_emulator(values.get("emulator_config"))
        config = session.config()
        emulator = session.emulator
        if emulator is not None:
            reason = "" if values.get("emulator_config") else "no endpoint given; "
            print(
                f"bench: {reason}started the built-in emulator at {emulator.url} "
                f"(endpoints: {', '.join(emulator.endpoints)}; pid {emulator.pid}"
                f"{'; ' + self._pinned if self._pinned else ''}); targeting {config.endpoint.name}",
                flush=True,
            )
        self._open_loop_users(config)
        self._steps.install()
        session.environment.stop_timeout = config.drain_s  # Locust waits that long for tasks in flight
        if not session.is_master:  # opening the transports checks region and credentials before any load
            self._workload.build()
        check_report_dir(config)  # the last check: a refused run leaves no directory behind

    def _open_loop_users(self, config: RunConfig) -> None:
        """Open loop: -u is the users available to send (the most requests in flight; 100 when not
        given), all started at once: the load is the arrival rate, not how fast users start."""
        arrival = config.arrival
        if arrival is None:
            return
        options = self.session.environment.parsed_options
        if options is None:
            return
        if getattr(options, "num_users", None) is None:
            options.num_users = DEFAULT_ARRIVAL_USERS
        users = int(options.num_users)
        options.spawn_rate = max(float(getattr(options, "spawn_rate", 1) or 1), float(users))
        capacity = config.capacity
        rate = (
            f"arrival rates {', '.join(f'{r:g}' for r in capacity.rates)} req/s by step"
            + (" (auto: doubling, then bisecting)" if capacity.auto else "")
            if capacity is not None and capacity.by_rate
            else f"{arrival.rate_per_s:g} req/s"
        )
        print(
            f"bench: open loop: {rate}, {arrival.distribution} arrivals (seed {arrival.seed}); "
            f"{users} users available to send (-u: the most requests in flight), started at once",
            flush=True,
        )

    def _users_with_endpoints(self, values: dict[str, Any]) -> None:
        """Run a user class only when its endpoint is configured (or the emulator is the target):
        ``--endpoint`` alone must not send streams to a Triton endpoint. A class named on the command
        line without its endpoint is refused; one picked by default is left out, in one line."""
        environment = self.session.environment
        emulated = needs_emulator(values)
        tensor_ok = emulated or bool(values.get("endpoint") or values.get("container_url"))
        stream_ok = emulated or bool(values.get("stream_endpoint"))
        named = set(getattr(environment.parsed_options, "user_classes", None) or ())
        kept, left_out = [], []
        for user_class in environment.user_classes or []:
            if issubclass(user_class, SageMakerStreamingUser) and not stream_ok:
                need = "--stream-endpoint NAME"
            elif issubclass(user_class, SageMakerTritonUser) and not tensor_ok:
                need = "--endpoint NAME (or --container-url URL)"
            else:
                kept.append(user_class)
                continue
            if user_class.__name__ in named:
                raise ConfigError(f"{user_class.__name__} needs {need}: the endpoint it sends to")
            left_out.append(f"{user_class.__name__} (no {need.split()[0]})")
        if left_out and not kept:
            raise ConfigError(
                "no user class has an endpoint: give --endpoint NAME (tensor users) or --stream-endpoint NAME (streaming users)"
            )
        if left_out:
            environment.user_classes = kept
            if environment.available_user_classes:
                left = {c.__name__ for c in environment.user_classes}
                environment.available_user_classes = {
                    name: c for name, c in environment.available_user_classes.items() if name in left
                }
            names = ", ".join(c.__name__ for c in kept)
            print(f"bench: running {names}; not {', '.join(left_out)}", flush=True)

    def start_emulator(self, config_file: str | None) -> None:
        from bench.emulator.process import start_emulator

        emulator = self.session.emulator = start_emulator(Path(config_file) if config_file else None)
        atexit.register(self.stop_emulator)
        options = self.session.environment.parsed_options
        setattr(options, EMULATOR_URL, emulator.url)
        self._pinned = pin_emulator_apart(emulator.pid, options)

    def stop_emulator(self) -> None:
        if self.session.emulator is not None:
            self.session.emulator.stop()
            self.session.emulator = None


def check_report_dir(config: RunConfig) -> None:
    """``--report-dir`` exists (made here) and takes files, before any load. Raises ConfigError."""
    directory = config.report_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".bench-probe-", dir=directory)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"--report-dir {str(directory)!r}: cannot write there ({reason}); give a directory you can write to"
        ) from None
