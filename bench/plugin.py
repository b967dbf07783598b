"""The only Locust glue: options, the embedded emulator, the workload, the collector, the reports.

A locustfile calls ``install()`` once (explicitly; importing this module has no side effects). Then:

- ``init_command_line_parser``: adds the harness's options (``bench.options``).
- ``init`` (every process): the master or local process starts the emulator when no endpoint is
  given and validates the whole configuration (options, payload files, credentials) before any
  load: a problem is one line on stderr and exit code 2.
- ``test_start``: builds the process's workload (encoded bodies and one shared transport); the
  local process opens a run directory and streams ``requests.csv``.
- ``test_stop``: closes ``requests.csv``, writes ``run.json`` and the summary tables, prints them.
"""

from __future__ import annotations

import atexit
import csv
import logging
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
import locust
import pandas as pd
from locust.env import Environment
from locust.runners import (
    STATE_MISSING,
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPING,
    MasterRunner,
    Runner,
    WorkerRunner,
)
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from bench.analysis.capacity import StepStats, planning_inputs, step_stats
from bench.analysis.gates import GateResult, GateSpec, confirm_abort, parse_gates
from bench.analysis.records import load_records, records_frame, rows_frame
from bench.collect import CsvRecordWriter, RequestCollector, RequestRecord
from bench.collect.health import HealthMonitor, HealthReport, combine, report_from_dict
from bench.collect.record import COLUMNS
from bench.collect.shipping import (
    FINAL_BATCH_WAIT_S,
    RECORDS_MESSAGE,
    RecordReceiver,
    RecordShipper,
    WorkerRoster,
)
from bench.collect.writer import RecordBatch
from bench.config import RunConfig
from bench.errors import ConfigError
from bench.live import LiveStats
from bench.live.verdicts import abort_verdict
from bench.live.webtab import TabState, install_inference_tab
from bench.options import add_options, needs_emulator, option_values, run_config_from_options
from bench.payload.llm import build_stream_bodies
from bench.payload.pool import build_requests
from bench.report import (
    ERROR_SAMPLES_JSON,
    REQUESTS_CSV,
    new_run_dir,
    write_run_json,
    write_tables,
)
from bench.report.closing import closing_lines
from bench.report.provenance import config_dict, git_sha, iso_time, json_text, package_versions
from bench.shapes import StepLoadShape
from bench.transport import make_stream_transport, make_transport
from bench.users import (
    SageMakerStreamingUser,
    SageMakerTritonUser,
    StreamWorkload,
    TensorWorkload,
    attach_workload,
)

logger = logging.getLogger("bench")
_TIMESTAMP, _USERS, _STEP = (COLUMNS.index(c) for c in ("timestamp_s", "users", "step"))
_EMULATOR_URL = "bench_emulator_url"  # set on parsed_options by the master; Locust ships it to workers
_installed = False


def install() -> None:
    """Register the harness with Locust. Call once from the locustfile, after ``import locust``."""
    global _installed
    if _installed:
        return
    _installed = True
    locust.events.init_command_line_parser.add_listener(_add_options)
    locust.events.init.add_listener(_on_init)


def _add_options(parser: Any, **_: Any) -> None:
    add_options(parser, locust=True)


def _on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    if environment.parsed_options is None or runner is None:
        return
    harness = Harness(environment, runner)
    try:
        harness.prepare()
    except ConfigError as exc:
        harness.stop_emulator()
        sys.stderr.write(f"bench: error: {exc}\n")
        sys.stderr.flush()
        sys.exit(2)
    if harness.is_master:
        runner.register_message(RECORDS_MESSAGE, harness.on_records)
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is not None and not harness.is_worker:
        install_inference_tab(web_ui, harness.tab_state)
        environment.events.reset_stats.add_listener(harness.on_reset_stats)
    environment.events.test_start.add_listener(harness.on_test_start)
    environment.events.test_stop.add_listener(harness.on_test_stop)
    environment.events.quitting.add_listener(harness.on_quitting)
    environment.events.quit.add_listener(harness.on_quit)


class Harness:
    """Per-process state of a run: emulator, workload, collector."""

    def __init__(self, environment: Environment, runner: Runner) -> None:
        self.environment = environment
        self.runner = runner
        self.is_worker = isinstance(runner, WorkerRunner)
        self.is_master = isinstance(runner, MasterRunner)
        self.emulator: Any = None
        self.config: RunConfig | None = None
        self.workload: TensorWorkload | None = None
        self.stream_workload: StreamWorkload | None = None
        self.collector: RequestCollector | None = None
        self.run_dir: Path | None = None
        self.started_at: float | None = None
        self._closing_lines: list[str] = []
        self.gates_passed: bool | None = None  # verdict of the last run's gates (None: no gates)
        self.shape: StepLoadShape | None = None
        self._shipper: RecordShipper | None = None
        self._receiver = RecordReceiver()
        self._finalizer: gevent.Greenlet | None = None
        self.health: HealthMonitor | None = None
        self.health_report: HealthReport | None = None
        self._step_records: dict[int, list[RequestRecord]] = {}
        self._step_rows: dict[int, list[list[str]]] = {}  # the same, as rows shipped by workers
        self.aborted_by: GateResult | None = None
        self.gates: tuple[GateSpec, ...] = ()  # the configuration's gates, parsed once
        self.measured_from: float | None = None  # when the current run's warm-up ends (wall clock)
        self.live: LiveStats | None = None  # live figures of the current run (bench.live)
        self.final_gates: tuple[GateResult, ...] = ()
        self._roster = WorkerRoster(self._receiver)  # master: lost workers (run.json)
        self._worker_watch: gevent.Greenlet | None = None
        self._gate_watch: gevent.Greenlet | None = None

    # ---- configuration -------------------------------------------------------------------------
    def _values(self) -> dict[str, Any]:
        return option_values(self.environment.parsed_options)

    def _emulator_url(self) -> str | None:
        return getattr(self.environment.parsed_options, _EMULATOR_URL, None)

    def _config(self, values: dict[str, Any]) -> RunConfig:
        users = int(getattr(self.environment.parsed_options, "num_users", 0) or 0)
        users = max(users, int(getattr(self.runner, "target_user_count", 0) or 0))
        return run_config_from_options(values, emulator_url=self._emulator_url(), users=users)

    def prepare(self) -> None:
        """Master/local: start the emulator if needed and validate everything. Raises ConfigError."""
        if self.is_worker:
            return
        values = self._values()
        encoded = self._encode(self._config(values))  # bad options or data: fail before starting anything
        if needs_emulator(values):
            self.start_emulator(values.get("emulator_config"))
        self.config = self._config(values)
        self.gates = tuple(parse_gates(self.config.gates))
        if self.emulator is not None:
            reason = "" if values.get("emulator_config") else "no endpoint given; "
            print(
                f"bench: {reason}started the built-in emulator at {self.emulator.url} "
                f"(endpoints: {', '.join(self.emulator.endpoints)}; pid {self.emulator.pid}); "
                f"targeting {self.config.endpoint.name}",
                flush=True,
            )
        if not self.is_master:  # workers build their own workloads when the master starts them
            self._build_workloads(values, encoded)  # the bodies do not depend on the emulator's address
        if self.config.capacity is not None:
            self._install_shape()

    def _install_shape(self) -> None:
        """The stepped load of a capacity run replaces -u/-r/-t (Locust's LoadTestShape)."""
        assert self.config is not None
        capacity = self.config.capacity
        assert capacity is not None
        self.shape = StepLoadShape(
            capacity.steps,
            capacity.step_duration_s,
            auto=capacity.auto,
            has_slo=bool(capacity.slos),
            on_step_end=self._step_end,
        )
        self.shape.runner = self.runner
        self.environment.shape_class = self.shape
        plan = (
            f"auto (doubling, up to {capacity.steps[-1]} users)"
            if capacity.auto
            else ",".join(map(str, capacity.steps))
        )
        total = "" if capacity.auto else f", {len(capacity.steps) * capacity.step_duration_s:g} s in all"
        print(
            f"bench: capacity run: users per step {plan}; {capacity.step_duration_s:g} s a step, "
            f"the first {capacity.ramp_s:g} s of each left out{total}",
            flush=True,
        )

    def _collect_step(self, record: RequestRecord) -> None:
        if record.step is not None:
            self._step_records.setdefault(record.step, []).append(record)

    def _step_end(self, step: int) -> StepStats | None:
        """Called by the shape when a step ends: its statistics, printed as one progress line."""
        assert self.config is not None
        capacity = self.config.capacity
        assert capacity is not None
        records = self._step_records.pop(step, [])
        rows = self._step_rows.pop(step, [])
        frames = ([records_frame(records)] if records else []) + ([rows_frame(rows)] if rows else [])
        stats = (
            step_stats(pd.concat(frames, ignore_index=True), capacity.slos, capacity.ramp_s) if frames else ()
        )
        total = "?" if capacity.auto else str(len(capacity.steps))
        if not stats:
            print(f"bench: step {step}/{total}: no requests completed", flush=True)
            return None
        s = stats[0]
        verdict = (
            ""
            if not capacity.slos
            else (" SLO ok" if s.slo_ok else f" SLO broken: {'; '.join(s.slo_failures)}")
        )
        print(
            f"bench: step {step}/{total}: {s.users} user{'' if s.users == 1 else 's'}, {s.rps:.1f} req/s, p95 {s.latency_p95_ms:.1f} ms, "
            f"errors {s.error_rate:.1%},{verdict}",
            flush=True,
        )
        return s

    def start_emulator(self, config_file: str | None) -> None:
        from bench.emulator.process import start_emulator

        self.emulator = start_emulator(Path(config_file) if config_file else None)
        atexit.register(self.stop_emulator)
        setattr(self.environment.parsed_options, _EMULATOR_URL, self.emulator.url)

    def stop_emulator(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    def _user_kinds(self) -> tuple[bool, bool]:
        """Whether tensor users and streaming users take part in this run."""
        classes = list(self.environment.user_classes or [])
        return (
            any(issubclass(c, SageMakerTritonUser) for c in classes),
            any(issubclass(c, SageMakerStreamingUser) for c in classes),
        )

    def _encode(self, config: RunConfig) -> tuple[tuple[Any, ...], tuple[bytes, ...]]:
        """The encoded tensor requests and stream bodies the run's users need. Raises ConfigError."""
        tensors, streams = self._user_kinds()
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
        return requests, bodies

    def _build_workloads(
        self, values: dict[str, Any], encoded: tuple[tuple[Any, ...], tuple[bytes, ...]] | None = None
    ) -> None:
        """Encode the bodies (unless ``encoded`` already) and open the transports; reused while the
        configuration (and user count) holds."""
        config = self._config(values)
        if config == self.config and (self.workload is not None or self.stream_workload is not None):
            return
        requests, bodies = encoded if encoded is not None else self._encode(config)
        self.close_transports()
        self.config = config
        if requests:
            self.workload = TensorWorkload(
                config=config, requests=requests, transport=make_transport(config.endpoint, config.transport)
            )
            attach_workload(self.environment, self.workload)
        if bodies and config.stream is not None:
            self.stream_workload = StreamWorkload(
                spec=config.stream,
                bodies=bodies,
                transport=make_stream_transport(config.stream.endpoint, config.transport),
            )
            attach_workload(self.environment, self.stream_workload)

    def close_transports(self) -> None:
        for workload in (self.workload, self.stream_workload):
            if workload is not None:
                workload.transport.close()
        self.workload = self.stream_workload = None

    # ---- run lifecycle -------------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        if not self.is_master:
            try:
                self._build_workloads(self._values())
            except ConfigError as exc:
                logger.error("error: %s", exc)
                gevent.spawn_later(0, self.runner.stop)
                return
        if self.is_worker:
            self._start_shipping()
            return
        assert self.config is not None
        self.run_dir = new_run_dir(self.config.report_dir, self.config.run_name)
        self.started_at = time.time()
        self.live, self.final_gates, self.aborted_by = LiveStats(), (), None
        self.gates = tuple(parse_gates(self.config.gates))
        self._receiver.on_extras = self._on_live_extras
        self.measured_from = self.started_at + self.config.warmup_s
        self.live.add_cut(self.measured_from)
        if self.config.gate_abort and self.gates:
            self._gate_watch = gevent.spawn(self._watch_gates, self.measured_from)
        observers = [self.live.observe]
        if self.shape is not None:
            self._step_records.clear()
            self._step_rows.clear()
            observers.append(self._collect_step)
        self.collector = RequestCollector(
            CsvRecordWriter(self.run_dir / REQUESTS_CSV),
            worker="master" if self.is_master else "local",
            users=lambda: self.runner.user_count,
            clock=time.time,
            observers=observers,
            step_of=self.shape.step_at if self.shape is not None else (lambda started_s: None),
        )
        self.environment.events.request.add_listener(self.collector.on_request)
        self._receiver.begin(self.collector)
        self._roster = WorkerRoster(self._receiver)
        if self.is_master:
            self._worker_watch = gevent.spawn(self._watch_workers)
        if not self.is_master:  # the master sends no load: its workers watch themselves
            self.health = HealthMonitor(warmup_s=self.config.warmup_s)
            self.health.start()
        self._write_run_json(ended_at=None)
        logger.info("writing %s", self.run_dir)

    def _watch_gates(self, since_s: float) -> None:
        """``--gate-abort``: stop the run when a gate can no longer pass.

        Twice a second the live statistics name candidates (cheap, also across workers). Live figures
        file a request by when it completed, the final evaluation by when it started (after the
        warm-up), so a candidate is confirmed on the raw records written so far, with the final
        evaluation's own code, before the run is stopped: an abort always agrees with the exit code.
        A candidate that does not hold is checked again at most every 10 s.
        """
        assert self.config is not None
        assert self.run_dir is not None
        gates = [g for g in self.gates if g.can_abort]
        warmup_s, requests_csv = self.config.warmup_s, self.run_dir / REQUESTS_CSV
        next_check: dict[str, float] = {}
        while self.aborted_by is None:
            gevent.sleep(0.5)
            live, collector = self.live, self.collector
            if live is None or collector is None:
                continue
            for gate in gates:
                if abort_verdict(live, [gate], since_s=since_s) is None:
                    continue
                if time.monotonic() < next_check.get(gate.expression, 0.0):
                    continue
                next_check[gate.expression] = time.monotonic() + 10.0
                collector.writer.flush()
                verdict = confirm_abort(load_records(requests_csv), gate, warmup_s)
                if verdict is None:
                    continue
                self.aborted_by = verdict
                logger.error(
                    "gate %s %s; stopping the run (--gate-abort)", verdict.gate.expression, verdict.reason
                )
                gevent.spawn_later(0, self.runner.quit)
                return

    # ---- distributed runs: workers ship their records to the master (bench.collect.shipping) ------
    def _start_shipping(self) -> None:
        client_id = str(getattr(self.runner, "client_id", "worker"))
        live = self.live = LiveStats(for_export=True)
        self.collector = RequestCollector(
            RecordBatch(),
            worker=client_id,
            users=lambda: self.runner.user_count,
            clock=time.time,
            observers=[live.observe],
        )
        self.environment.events.request.add_listener(self.collector.on_request)
        self.health = HealthMonitor(warmup_s=self.config.warmup_s if self.config is not None else 0.0)
        self.health.start()
        self._shipper = RecordShipper(
            self.collector,
            self.runner.send_message,
            extras=lambda: {"live": e} if (e := live.export()) else {},
        )
        self._shipper.start()

    def on_records(self, environment: Environment, msg: Any, **_: Any) -> None:
        data = msg.data or {}
        self._adopt_rows(data.get("rows") or [])
        self._receiver.receive(str(msg.node_id), data)

    def _adopt_rows(self, rows: list[list[str]]) -> None:
        """Master: what only the master knows, in the workers' rows: all users, and the load step.

        A worker knows its own users only and has no load shape: ``users`` becomes the master's count
        across workers when the batch arrives, and ``step`` the step the request started in.
        """
        users = str(self.runner.user_count)
        shape = self.shape
        for row in rows:
            row[_USERS] = users
            if shape is not None:
                step = shape.step_at(float(row[_TIMESTAMP]))
                if step is not None:
                    row[_STEP] = str(step)
                    self._step_rows.setdefault(step, []).append(row)

    def _on_live_extras(self, node_id: str, data: dict[str, Any]) -> None:
        if self.live is not None and data.get("live"):
            self.live.merge(data["live"])

    def on_reset_stats(self, **_: Any) -> None:
        """Locust's Reset Stats button: the live figures start over with Locust's (the run's files,
        and the exact reports made from them, keep every record)."""
        if self.live is not None and self.measured_from is not None:
            live = LiveStats()
            live.add_cut(self.measured_from)
            self.live = live

    def tab_state(self) -> TabState:
        """What the web UI's Inference tabs show (bench.live.webtab), read on each poll."""
        ended = self.collector is None and self.run_dir is not None
        newest = self.live.newest_second if self.live is not None else None
        now = time.time() if not ended or newest is None else min(time.time(), newest + 1.0)
        return TabState(
            live=self.live,
            now_s=now,
            gates=self.gates,
            gates_since_s=self.measured_from,
            aborted=self.aborted_by.gate.expression if self.aborted_by is not None else None,
            final_gates=self.final_gates,
            run_dir=self.run_dir,
            ended=ended,
        )

    def _watch_workers(self) -> None:
        """Master: once a second, the workers lost (no heartbeats) and back (``WorkerRoster``).

        Each change is logged and written to ``run.json`` at once, so it is on record even if the
        master dies later; the run goes on with the others.
        """
        while True:
            gevent.sleep(1.0)
            missing = self._missing()
            lost, back = self._roster.update(missing, time.time())
            for worker in back:
                logger.warning("worker %s sends heartbeats again: it is back in the run", worker)
            for gone in lost:
                logger.warning(
                    "worker %s is lost (no heartbeat; last records at %s): its unsent records are lost, "
                    "the run goes on with %d worker(s)",
                    gone.worker,
                    iso_time(gone.last_records_at) or "never",
                    sum(not m for m in missing.values()),
                )
            if (lost or back) and self.run_dir is not None:
                self._write_run_json(ended_at=None)

    def _missing(self) -> dict[str, bool]:
        """Each worker Locust knows -> whether it is marked missing."""
        return {str(c.id): c.state == STATE_MISSING for c in getattr(self.runner, "clients", {}).values()}

    def on_test_stop(self, **_: Any) -> None:
        if self.is_worker:
            if self._shipper is not None and self.collector is not None:
                self.environment.events.request.remove_listener(self.collector.on_request)
                health = self.health.stop() if self.health is not None else None
                self._shipper.stop(extra={"health": asdict(health)} if health is not None else None)
            self._shipper = self.collector = None
            self.health = None
            return
        if self.is_master:  # the workers' last batches are still on their way
            self._finalizer = gevent.spawn(self._finalize_after_workers)
            return
        self._finalize()

    def _finalize_after_workers(self) -> None:
        if self._worker_watch is not None:
            self._worker_watch.kill(block=False)
            self._worker_watch = None
        missing = self._receiver.wait_for(self._roster.expected(self._missing()))
        if missing:
            logger.warning(
                "no final batch of records from workers %s: their last records are lost", ", ".join(missing)
            )
        self._finalize()

    def _finalize(self) -> None:
        collector, run_dir = self.collector, self.run_dir
        if collector is None or run_dir is None or self.config is None:
            return
        self.environment.events.request.remove_listener(collector.on_request)
        self._receiver.end()
        collector.close()
        if self._gate_watch is not None:
            self._gate_watch.kill(block=False)
            self._gate_watch = None
        self.collector = None
        if self.is_master:
            reports = {worker: report_from_dict(data) for worker, data in self._receiver.health.items()}
            self.health_report = combine(reports) if reports else None
        else:
            self.health_report = self.health.stop() if self.health is not None else None
        (run_dir / ERROR_SAMPLES_JSON).write_text(json_text(collector.error_sample_list()), encoding="utf-8")
        self._write_run_json(ended_at=time.time(), records=collector.writer.rows)
        self._write_locust_csvs(run_dir)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        capacity = self.config.capacity
        tables = write_tables(
            run_dir,
            warmup_s=self.config.warmup_s,
            gates=self.config.gates,
            step_summary=Path(step_summary) if step_summary else None,
            planning=planning_inputs(capacity) if capacity is not None else None,
            endpoint=self.config.endpoint.name,
        )
        if tables.gates:
            self.final_gates = tuple(tables.gates)
        health = self.health_report
        closing = closing_lines(
            tables,
            run_dir=run_dir,
            warmup_s=self.config.warmup_s,
            aborted_by=self.aborted_by,
            invalid_reasons=health.reasons if health is not None else (),
            processes_needed=health.processes_needed if health is not None else 1,
            processes=max(1, len(self._receiver.health)) if self.is_master else 1,
            cpu_mean=health.cpu_mean if health is not None else 0.0,
            require_valid=self.config.require_valid,
        )
        self.gates_passed = closing.passed
        lines = closing.lines
        self._closing_lines = lines
        logger.info("wrote %s", run_dir)

    def _write_locust_csvs(self, run_dir: Path) -> None:
        """Locust's own statistics tables, final, next to ours (``locust_stats.csv`` ...)."""
        stats = StatsCSV(self.environment, PERCENTILES_TO_REPORT)
        for name, write in (
            ("stats", stats.requests_csv),
            ("failures", stats.failures_csv),
            ("exceptions", stats.exceptions_csv),
        ):
            with (run_dir / f"locust_{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                write(csv.writer(handle))

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        """Finish the run's files, then let the gates decide the exit code (3 when one failed).

        Locust fires ``quitting`` before it stops the runner, also on SIGTERM and Ctrl-C (SIGINT):
        a run still going is stopped here first, so its records (the workers' last batches too) are
        all written and the reports made before the process exits, and the gates can set the code.
        """
        if not self.is_worker and self.runner.state in (STATE_SPAWNING, STATE_RUNNING, STATE_STOPPING):
            if self.runner.state != STATE_STOPPING:
                logger.info("stopping the run before exit: writing every record received and the reports")
                self.runner.stop()
            deadline = time.monotonic() + 30
            while self.collector is not None and self._finalizer is None and time.monotonic() < deadline:
                gevent.sleep(0.1)  # a stop already under way fires test_stop soon
        if self._finalizer is not None:
            self._finalizer.join(timeout=FINAL_BATCH_WAIT_S + 30)
            self._finalizer = None
        if self.gates_passed is not None and environment.process_exit_code is None:
            environment.process_exit_code = 0 if self.gates_passed else 3

    def on_quit(self, **_: Any) -> None:
        """After Locust's own closing tables: the exact summary of the last run and where it is.

        Nothing here may yield to gevent: on SIGTERM, Locust's shutdown runs in a signal greenlet and
        the main greenlet, woken by the runner's end, would run a second shutdown that overwrites
        ``--json-file`` with emptied statistics. The emulator is stopped at exit (``atexit``).
        """
        if self._closing_lines:
            print("\n".join(self._closing_lines), flush=True)
            self._closing_lines = []

    def _write_run_json(self, *, ended_at: float | None, records: int | None = None) -> None:
        assert self.run_dir is not None
        assert self.config is not None
        options = self.environment.parsed_options
        write_run_json(
            self.run_dir,
            {
                "run_dir": str(self.run_dir),
                "started_at": iso_time(self.started_at),
                "ended_at": iso_time(ended_at),
                "records": records,
                "valid": self.health_report.valid if self.health_report is not None else None,
                "lost_workers": [
                    {
                        "worker": lost.worker,
                        "detected_at": iso_time(lost.detected_at),
                        "last_records_at": iso_time(lost.last_records_at),
                        "records_received": lost.records_received,
                    }
                    for lost in self._roster.lost.values()
                ],
                "health": asdict(self.health_report) if self.health_report is not None else None,
                "command_line": sys.argv,
                "config": config_dict(self.config),
                "emulator": {"url": self._emulator_url()} if self.config.endpoint.emulated else None,
                "locust": {
                    "users": getattr(options, "num_users", None),
                    "spawn_rate": getattr(options, "spawn_rate", None),
                    "run_time": getattr(options, "run_time", None),
                    "headless": getattr(options, "headless", None),
                    "locustfile": getattr(options, "locustfile", None),
                },
                "versions": package_versions(),
                "git_sha": git_sha(),
                "host": {"python": platform.python_version(), "platform": platform.platform()},
            },
        )


__all__ = ["Harness", "install"]
