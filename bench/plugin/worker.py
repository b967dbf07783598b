"""The worker part (a Locust worker process): record its requests and ship them to the master.

The worker's collector writes into a ``RecordBatch``; a ``RecordShipper`` sends it over Locust's
messaging every half second with the worker's live statistics, and a last batch with its health
verdict when the run stops. The worker writes no files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import gevent
from locust.env import Environment

from bench.collect import RequestCollector
from bench.collect.health import HealthMonitor
from bench.collect.shipping import RecordShipper
from bench.collect.writer import RecordBatch
from bench.errors import ConfigError
from bench.live import LiveStats
from bench.plugin.cpus import pin_forked_worker
from bench.plugin.session import QUIT_AFTER_STOP, Session

QUIT_DELAY_S = 0.5  # for the last messages (the final batch, Locust's client_stopped) to leave


class WorkerPart:
    def __init__(self, session: Session, final_extras: Callable[[], dict[str, Any]] = dict) -> None:
        """``final_extras``: what else the last batch carries (the arrivals part's counts)."""
        self.session = session
        self._final_extras = final_extras
        self._quit_after_stop = False
        self._shipping: tuple[RequestCollector, RecordShipper, HealthMonitor] | None = None

    def register(self, environment: Environment) -> None:
        self.session.runner.register_message(QUIT_AFTER_STOP, self._on_quit_after_stop)
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.test_stop.add_listener(self.on_test_stop)
        environment.events.test_stopping.add_listener(self.on_test_stopping)

    def on_test_stopping(self, **_: Any) -> None:
        """The load ends: the health watch judges the load, not the drain after it."""
        if self._shipping is not None:
            self._shipping[2].stop()

    def on_test_start(self, **_: Any) -> None:
        pin_forked_worker(self.session.environment.parsed_options)  # off the built-in emulator's core
        runner = self.session.runner
        live = LiveStats(for_export=True)
        collector = RequestCollector(
            RecordBatch(),
            worker=str(getattr(runner, "client_id", "worker")),
            users=lambda: runner.user_count,
            clock=time.time,
            observers=[live.observe],
        )
        try:
            warmup_s = self.session.config().warmup_s
        except ConfigError:  # the workload part logged it and stops the run
            warmup_s = 0.0
        health = HealthMonitor(warmup_s=warmup_s)
        shipper = RecordShipper(
            collector, runner.send_message, extras=lambda: {"live": e} if (e := live.export()) else {}
        )
        self.session.environment.events.request.add_listener(collector.on_request)
        health.start()
        shipper.start()
        self._shipping = (collector, shipper, health)

    def on_test_stop(self, **_: Any) -> None:
        if self._shipping is None:
            return
        collector, shipper, health = self._shipping
        self._shipping = None
        self.session.environment.events.request.remove_listener(collector.on_request)
        shipper.stop(extra={"health": asdict(health.stop()), **self._final_extras()})
        if self._quit_after_stop:  # the master is quitting: so does this worker, its records shipped
            gevent.spawn_later(QUIT_DELAY_S, self.session.runner.greenlet.kill, block=False)

    def _on_quit_after_stop(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._quit_after_stop = True
