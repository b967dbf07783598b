"""The arrivals part: the open loop's pacer of each load process (``--arrival-rate``, ``--rates``).

At ``test_start`` every process that sends (local, each worker) makes a ``Pacer`` for its share of
the rate and hands it to the workloads; the users then send at its times (``bench.users``). A worker's
share is ``(index, processes)`` from the master, which puts each worker's index into the options it
ships with the spawn message (``ARRIVAL_SHARES``). A rate-stepped run's new rate goes to the pacer
(local) or to every worker as a ``bench_rate`` message (master). At ``test_stopping`` the pacer
stops: the sends due by then that never started are ``not_sent``; a worker reports its counts with
its last batch, the master adds them up, and ``run.json`` gets them (``Run.arrival``).
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any

from locust.env import Environment

from bench.config import ArrivalSpec
from bench.errors import ConfigError
from bench.pacer import ArrivalDistribution, Pacer
from bench.plugin.session import Session
from bench.plugin.timers import coarse_timer_warning
from bench.plugin.workload import WorkloadPart
from bench.users import SendSignal

logger = logging.getLogger("bench")
ARRIVAL_SHARES = "bench_arrival_shares"  # on parsed_options: worker client id -> its share's index
RATE_MESSAGE = "bench_rate"
ARRIVAL_REPORT = "arrival"  # the key of a worker's counts in its last batch's extras


class ArrivalsPart:
    def __init__(self, session: Session, workload: WorkloadPart) -> None:
        self.session = session
        self._workload = workload
        self.pacer: Pacer | None = None
        self._reports: dict[str, dict[str, Any]] = {}  # master: each worker's counts

    def register(self, environment: Environment) -> None:
        """After the workload part (its ``test_start`` builds the workloads this one paces)."""
        session = self.session
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.test_stopping.add_listener(self.on_test_stopping)
        if session.is_master:
            session.on_rate = self._broadcast_rate
        else:
            session.on_rate = self.set_rate
        if session.is_worker:
            session.runner.register_message(RATE_MESSAGE, self._on_rate_message)

    # -- every process that sends ------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        session = self.session
        self.pacer = None
        self._reports = {}
        try:
            arrival = session.config().arrival
        except ConfigError:  # bad options (the web UI's form): the run part refuses the run
            arrival = None
        if session.is_master:
            self._ship_shares(arrival)
            self._begin_run(arrival)
            return
        if arrival is None:
            self._attach(None)
            return
        index, processes, seed = self._share(arrival.seed)
        pacer = Pacer(
            arrival.rate_per_s,
            _distribution(arrival.distribution),
            seed,
            index,
            processes,
            new_signal=SendSignal,
        )
        pacer.start(time.perf_counter())
        self.pacer = pacer
        warning = coarse_timer_warning()
        if warning:
            logger.warning(warning)
        self._attach(pacer)
        self._begin_run(arrival)

    def set_rate(self, rate_per_s: float) -> None:
        if self.pacer is not None:
            self.pacer.set_rate(rate_per_s, time.perf_counter())

    def on_test_stopping(self, **_: Any) -> None:
        pacer = self.pacer
        if pacer is not None:
            pacer.stop(time.perf_counter())
        self.update_run()

    def counts(self) -> dict[str, int]:
        """This process's sends and scheduled sends never made (not final before ``test_stopping``)."""
        pacer = self.pacer
        if pacer is None:
            return {"sent": 0, "not_sent": 0}
        return {"sent": pacer.sent, "not_sent": pacer.not_sent}

    def update_run(self) -> None:
        """The run's ``arrival`` entry from this process's counts (local) or the workers' (master)."""
        run = self.session.run
        if run is None or run.arrival is None or run.ended:
            return
        parts = list(self._reports.values()) if self.session.is_master else [self.counts()]
        run.arrival = {
            **run.arrival,
            "sent": sum(int(p.get("sent", 0)) for p in parts),
            "not_sent": sum(int(p.get("not_sent", 0)) for p in parts),
        }

    def _attach(self, pacer: Pacer | None) -> None:
        for workload in (self._workload.tensor, self._workload.stream):
            if workload is not None:
                workload.pacer = pacer

    def _begin_run(self, arrival: ArrivalSpec | None) -> None:
        run = self.session.run
        if run is None or arrival is None:
            return
        capacity = run.config.capacity
        stepped = capacity is not None and capacity.by_rate
        run.arrival = {
            "rate_per_s": None if stepped else arrival.rate_per_s,
            "distribution": arrival.distribution,
            "seed": arrival.seed,
            "sent": 0,
            "not_sent": 0,
        }

    # -- workers: their share, their rate ----------------------------------------------------------
    def _share(self, seed: int) -> tuple[int, int, int]:
        """This process's (index, processes, seed): (0, 1) locally; a worker's from the master."""
        session = self.session
        if not session.is_worker:
            return 0, 1, seed
        shares = getattr(session.environment.parsed_options, ARRIVAL_SHARES, None) or {}
        client_id = str(getattr(session.runner, "client_id", ""))
        if client_id not in shares:  # its own stream, so that it does not repeat another worker's times
            logger.warning(
                "this worker joined after the run started: it sends a share of the arrival rate as if it "
                "were one of %d processes (the run's rate is exceeded by that share)",
                max(1, len(shares)),
            )
            return 0, max(1, len(shares)), seed ^ zlib.crc32(client_id.encode())
        return int(shares[client_id]), len(shares), seed

    def _on_rate_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        rate = (msg.data or {}).get("rate_per_s")
        if isinstance(rate, int | float) and rate > 0:
            self.set_rate(float(rate))

    # -- master: shares out, rates out, counts in ----------------------------------------------------
    def _ship_shares(self, arrival: ArrivalSpec | None) -> None:
        """Before Locust sends the spawn messages (they carry the options): each worker's index."""
        options = self.session.environment.parsed_options
        if arrival is None:
            setattr(options, ARRIVAL_SHARES, None)
            return
        workers = _dispatched_workers(self.session.runner)
        users = int(getattr(self.session.environment.parsed_options, "num_users", 0) or 0)
        if 0 < users < len(workers):
            logger.warning(
                "%d users for %d workers: a worker without users cannot send its share of the arrival rate; "
                "give -u at least the number of workers",
                users,
                len(workers),
            )
        setattr(options, ARRIVAL_SHARES, {worker: index for index, worker in enumerate(workers)})

    def _broadcast_rate(self, rate_per_s: float) -> None:
        self.session.runner.send_message(RATE_MESSAGE, {"rate_per_s": rate_per_s})

    def worker_report(self, node_id: str, data: dict[str, Any]) -> None:
        """Master: a worker's batch; its last one carries its counts."""
        counts = data.get(ARRIVAL_REPORT)
        if isinstance(counts, dict):
            self._reports[node_id] = counts
            self.update_run()


def _dispatched_workers(runner: Any) -> list[str]:
    """The workers Locust gives users to: ready, spawning or running (a stopped one still sleeping out
    --stop-timeout, or a missing one, gets none), by id."""
    clients = runner.clients  # Locust's WorkerNodes
    return sorted(str(c.id) for c in (*clients.ready, *clients.spawning, *clients.running))


def _distribution(name: str) -> ArrivalDistribution:
    return "constant" if name == "constant" else "poisson"
