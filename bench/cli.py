"""``bench``: the emulator, one-off invocations and offline reports. Thin; argparse.

    bench serve   [--host 127.0.0.1] [--port 8080] [--config FILE] [--container NAME] [--upstream URL]
                  [--upstream-stream-path PATH] [--verify-sigv4] [--sigv4-credential KEY:SECRET] [--print-config]
    bench invoke  [same endpoint and payload options as the locustfile]
    bench report  RUN_DIR [--warmup DURATION]
    bench gate    RUN_DIR --gate EXPR [--gate EXPR ...] [--warmup DURATION]
    bench compare BASELINE_DIR CANDIDATE_DIR [--max-regression 10%] [--out DIR]
    bench selfbench [--quick] [--seconds S] [--users N] [--out DIR] [--report-rows N] [--report-only]

Exit codes: 0 ok; 1 the endpoint answered with an error (invoke); 2 bad configuration or usage;
3 a gate failed (gate, report) or a significant regression (compare).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from bench.config import parse_duration
from bench.emulator.__main__ import add_serve_arguments, serve_from_args
from bench.errors import ConfigError, EndpointError, ModelError
from bench.options import add_options, needs_emulator, option_values, run_config_from_options


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (what is wrong, where to look) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the SageMaker runtime emulator (loopback by default)")
    add_serve_arguments(serve)

    invoke = commands.add_parser("invoke", help="send one request and print the decoded response as JSON")
    add_options(invoke, locust=False, environ=os.environ)

    report = commands.add_parser("report", help="regenerate a run's report files from its requests.csv")
    report.add_argument("run_dir", type=Path, help="a run directory (reports/<stamp>-<name>)")
    report.add_argument("--warmup", help="override the warm-up left out of summaries (default: the run's)")

    gate = commands.add_parser(
        "gate", help="evaluate gates on a finished run (same code and exit codes as a live run)"
    )
    gate.add_argument("run_dir", type=Path, help="a run directory (reports/<stamp>-<name>)")
    gate.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="EXPR",
        help="a gate (repeatable; default: the run's own)",
    )
    gate.add_argument("--warmup", help="override the warm-up left out of the evaluation (default: the run's)")

    compare = commands.add_parser("compare", help="compare a candidate run with a baseline run")
    compare.add_argument("baseline", type=Path, help="the baseline run directory")
    compare.add_argument("candidate", type=Path, help="the candidate run directory")
    compare.add_argument(
        "--max-regression",
        default="10%",
        help="regressions larger than this (and significant) fail (default 10%%)",
    )
    compare.add_argument(
        "--out", type=Path, help="where compare.csv and compare.md go (default: the candidate directory)"
    )

    selfbench = commands.add_parser(
        "selfbench", help="measure the load generator itself (requests per CPU-second)"
    )
    selfbench.add_argument(
        "--quick", action="store_true", help="2 s per variant, 4 users: checks the output, not the speed"
    )
    selfbench.add_argument(
        "--trials",
        type=int,
        default=3,
        help="trials per variant, interleaved; the median is reported (default 3)",
    )
    selfbench.add_argument("--seconds", type=float, default=10.0, help="seconds per variant (default 10)")
    selfbench.add_argument("--users", type=int, default=16, help="users of the throughput runs (default 16)")
    selfbench.add_argument(
        "--out", type=Path, default=Path("reports/selfbench"), help="where selfbench.csv goes"
    )
    selfbench.add_argument(
        "--report-rows",
        type=int,
        metavar="N",
        help="rows of the synthetic requests.csv of the report-read measurement "
        "(default 10,000,000; --quick: 200,000; 0: skip it)",
    )
    selfbench.add_argument(
        "--report-only", action="store_true", help="measure only the report read (bench report on N rows)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "invoke":
            return _invoke(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "selfbench":
            return _selfbench(args)
        return _report(args)
    except ConfigError as exc:
        sys.stderr.write(f"bench {args.command}: error: {exc}\n")
        return 2


def _serve(args: argparse.Namespace) -> int:
    serve_from_args(args)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from bench.payload.pool import build_requests
    from bench.payload.triton import check_outputs, decode_response, outputs_as_json
    from bench.transport import make_transport

    values = option_values(args)
    build_requests(
        run_config_from_options(values).payload
    )  # bad options or data: fail before starting anything
    emulator = None
    if needs_emulator(values):
        from bench.emulator.process import start_emulator

        emulator = start_emulator(Path(values["emulator_config"]) if values.get("emulator_config") else None)
        sys.stderr.write(f"bench: no endpoint given; started the built-in emulator at {emulator.url}\n")
    try:
        config = run_config_from_options(values, emulator_url=emulator.url if emulator else None)
        request = build_requests(config.payload)[0]
        transport = make_transport(config.endpoint, config.transport)
        inference_id = uuid.uuid4().hex
        result: dict[str, Any] = {
            "endpoint": config.endpoint.name,
            "inference_id": inference_id,
            "request_bytes": len(request.body),
        }
        started = time.perf_counter()
        try:
            response = transport.invoke(request.body, request.content_type, inference_id)
            result["execution_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
            outputs = decode_response(response.body, response.content_type)
            check_outputs(outputs, config.payload.outputs)
        except EndpointError as exc:  # DecodeError included
            result.setdefault("execution_ms", round((time.perf_counter() - started) * 1000.0, 3))
            result.update(_error_fields(exc))
            print(json.dumps(result, indent=2))
            return 1
        finally:
            transport.close()
        result.update(
            status="ok",
            http_status=response.http_status,
            variant=response.variant,
            content_type=response.content_type,
            response_bytes=len(response.body),
            outputs=outputs_as_json(outputs),
        )
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if emulator is not None:
            emulator.stop()


def _error_fields(exc: EndpointError) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": "error",
        "error_type": exc.error_type,
        "error_stage": exc.stage,
        "http_status": exc.http_status,
        "message": exc.message,
    }
    if isinstance(exc, ModelError):
        fields["original_status"] = exc.original_status
        fields["original_message"] = exc.original_message
    return fields


def _report(args: argparse.Namespace) -> int:
    """``bench report`` and ``bench gate``: every report file again, from requests.csv alone."""
    from bench.analysis.capacity import planning_from_run_config
    from bench.gatespec import parse_gates
    from bench.report import REQUESTS_CSV, format_gates, format_summary, read_run_json, write_tables
    from bench.report.rundir import read_measured_from

    run_dir: Path = args.run_dir
    if not (run_dir / REQUESTS_CSV).is_file():
        raise ConfigError(
            f"{run_dir}: no {REQUESTS_CSV} there; give a run directory such as reports/<stamp>-<name>"
        )
    run_json = read_run_json(run_dir)
    run_config = run_json.get("config", {})
    run_warmup_s = float(run_config.get("warmup_s", 0.0))
    measured_from_s = read_measured_from(run_dir)  # the run's warm-up cut (None for older runs)
    if args.warmup is not None:
        warmup_s = parse_duration(args.warmup, option="--warmup")
        if measured_from_s is not None:  # the same run start, another warm-up
            measured_from_s += warmup_s - run_warmup_s
    else:
        warmup_s = run_warmup_s
    # a malformed gate is a usage error before anything is written; run.json keeps the expressions
    gates = parse_gates(tuple(getattr(args, "gate", None) or run_config.get("gates") or ()))
    if args.command == "gate" and not gates:
        raise ConfigError(f"{run_dir}: the run had no gates; give at least one --gate EXPR")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY") if args.command == "gate" else None
    tables = write_tables(
        run_dir,
        warmup_s=warmup_s,
        measured_from_s=measured_from_s,
        gates=gates,
        step_summary=Path(step_summary) if step_summary else None,
        planning=planning_from_run_config(
            run_config, started if isinstance(started := run_json.get("started_s"), int | float) else None
        ),
        endpoint=str(run_config.get("endpoint", {}).get("name", "")),
    )
    print(format_summary(tables.summary))
    written = "summary.csv, errors.csv, timeseries.csv" + (
        ", gates.json, junit.xml, summary.md" if gates else ""
    )
    if tables.capacity is not None:
        written += ", capacity.csv, capacity.json, report.html"
        print("bench: " + tables.capacity.recommendation.text)
    print(f"bench: wrote {written} in {run_dir} from {tables.records} requests")
    if not tables.gates:
        return 0
    print(format_gates(tables.gates))
    print("bench: all gates passed" if tables.gates_passed else "bench: GATES FAILED (exit code 3)")
    return 0 if tables.gates_passed else 3


def _selfbench(args: argparse.Namespace) -> int:
    from bench.selfbench import (
        REPORT_CSV,
        REPORT_ROWS,
        REPORT_ROWS_QUICK,
        format_report_read,
        format_table,
        run_report_read,
        run_selfbench,
    )

    seconds, users = (2.0, 4) if args.quick else (args.seconds, args.users)
    if seconds <= 0 or users < 1:
        raise ConfigError("--seconds and --users must be positive")
    report_rows = args.report_rows
    if report_rows is None:
        report_rows = REPORT_ROWS_QUICK if args.quick else REPORT_ROWS
    if report_rows < 0 or (args.report_only and report_rows == 0):
        raise ConfigError(
            "--report-rows must be positive (0 skips the report read, but not with --report-only)"
        )
    written = []
    if not args.report_only:
        rows = run_selfbench(args.out, seconds=seconds, users=users, quick=args.quick, trials=args.trials)
        written.append(args.out / "selfbench.csv")
    report = run_report_read(args.out, rows=report_rows) if report_rows else None
    if not args.report_only:
        if args.quick:
            print("bench: --quick: one 2-second window per variant with 4 users (not a measurement)")
        print(format_table(rows))
    if report is not None:
        print(("" if args.report_only else "\n") + format_report_read(report))
        written.append(args.out / REPORT_CSV)
    print(f"bench: wrote {' and '.join(map(str, written))}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from bench.analysis.compare import compare_runs
    from bench.config import parse_percentage
    from bench.report.comparison import format_comparison, write_comparison

    threshold = parse_percentage(args.max_regression, "--max-regression")
    comparison = compare_runs(args.baseline, args.candidate, max_regression=threshold)
    out_dir: Path = args.out or args.candidate
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = write_comparison(comparison, out_dir)
    print(format_comparison(comparison))
    print(f"bench: wrote {csv_path} and {md_path}")
    return 3 if comparison.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
