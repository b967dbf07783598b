"""``bench``: the emulator, one-off invocations and offline reports. Thin; argparse.

    bench serve   [--host 127.0.0.1] [--port 8080] [--config FILE] [--container NAME] [--upstream URL]
                  [--upstream-stream-path PATH] [--verify-sigv4] [--sigv4-credential KEY:SECRET] [--print-config]
    bench invoke  [same endpoint and payload options as the locustfile]
    bench report  RUN_DIR [--warmup DURATION]
    bench gate    RUN_DIR [--gate EXPR ...] [--warmup DURATION] [--write]
    bench compare BASELINE_DIR CANDIDATE_DIR [--max-regression 10%] [--out DIR]
    bench selfbench [--quick] [--seconds S] [--users N] [--out DIR] [--report-rows N] [--report-only]
                    [--open-loop-steps N] [--open-loop-arrival {poisson,constant}]

Exit codes: 0 ok; 1 the endpoint answered with an error (invoke); 2 bad configuration or usage;
3 a gate failed (gate, report) or a significant regression (compare).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from bench.config import parse_duration
from bench.emulator.__main__ import add_serve_arguments, serve_from_args
from bench.errors import ConfigError
from bench.invoke import invoke
from bench.options import (
    accept_negative_values,
    add_options,
)

if TYPE_CHECKING:
    from bench.analysis.gates import GateResult
    from bench.gatespec import GateSpec


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (what is wrong, where to look) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _LiteralHelp:
    """A parser's ``add_argument`` with help texts taken literally.

    argparse %-formats help texts (``%(default)s``); the shared ``OPTIONS`` texts are plain prose
    ("20% of the step"), so their ``%`` are doubled here. Locust's web UI shows the same texts
    unformatted, which is why they are not written doubled in ``bench.options``.
    """

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._parser = parser

    def add_argument(self, *flags: str, **kwargs: Any) -> argparse.Action:
        if isinstance(kwargs.get("help"), str):
            kwargs["help"] = kwargs["help"].replace("%", "%%")
        return self._parser.add_argument(*flags, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the SageMaker runtime emulator (loopback by default)")
    add_serve_arguments(serve)

    invoke = commands.add_parser(
        "invoke",
        help="send one request (or one stream, with --stream-endpoint/--prompt) and print the response as JSON",
    )
    add_options(_LiteralHelp(invoke), locust=False, environ=os.environ)
    accept_negative_values(invoke)

    report = commands.add_parser("report", help="regenerate a run's report files from its requests.csv")
    report.add_argument("run_dir", type=Path, help="a run directory (reports/<stamp>-<name>)")
    report.add_argument("--warmup", help="override the warm-up left out of summaries (default: the run's)")
    accept_negative_values(report)

    gate = commands.add_parser(
        "gate", help="evaluate gates on a finished run (same code and exit codes as a live run)"
    )
    gate.add_argument("run_dir", type=Path, help="a run directory (reports/<stamp>-<name>)")
    gate.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="EXPR",
        help="a gate (repeatable; default: the run's own); a what-if: written into RUN_DIR/whatif/",
    )
    gate.add_argument(
        "--warmup",
        help="override the warm-up left out of the evaluation (default: the run's); a what-if, as --gate",
    )
    gate.add_argument(
        "--write",
        action="store_true",
        help="write a what-if over the run's own gates.json, junit.xml, summary.md and summary.csv",
    )
    accept_negative_values(gate)

    compare = commands.add_parser("compare", help="compare a candidate run with a baseline run")
    compare.add_argument("baseline", type=Path, help="the baseline run directory")
    compare.add_argument("candidate", type=Path, help="the candidate run directory")
    compare.add_argument(
        "--max-regression",
        default="10%",
        help="regressions larger than this (and significant) fail (default 10%%)",
    )
    accept_negative_values(compare)
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
    selfbench.add_argument(
        "--open-loop-steps",
        type=int,
        default=8,
        metavar="N",
        help="trials of the open-loop rate search per transport, each a window of --seconds/5 "
        "(1 to 3 s) in one process (default 8; --quick: at most 3; 0: skip the open loop)",
    )
    selfbench.add_argument(
        "--open-loop-arrival",
        choices=("poisson", "constant"),
        default="poisson",
        help="arrivals of the open-loop search (default poisson)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "invoke":
            return invoke(args)
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


# Options of a streaming request, and of a tensor request: ``bench invoke`` sends one or the other.
WHATIF_DIR = "whatif"  # where ``bench gate RUN --gate ...`` writes, inside the run directory


def _report(args: argparse.Namespace) -> int:
    """``bench report`` and ``bench gate``: every report file again, from requests.csv alone.

    ``bench gate`` with ``--gate`` or ``--warmup`` is a what-if: its files go into ``RUN/whatif/``
    and the run's own files stay as the run left them, unless ``--write``.
    """
    from bench.analysis.capacity import planning_from_run_config
    from bench.gatespec import parse_gates
    from bench.report import REQUESTS_CSV, format_summary, read_run_json, write_tables
    from bench.report.closing import late_line, open_loop_line
    from bench.report.rundir import read_measured_from

    run_dir: Path = args.run_dir
    requests_csv = run_dir / REQUESTS_CSV
    if not requests_csv.is_file():
        raise ConfigError(
            f"{run_dir}: no {REQUESTS_CSV} there; give a run directory such as reports/<stamp>-<name>"
        )
    _check_run_files(run_dir)
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
    whatif = args.command == "gate" and (args.gate or args.warmup is not None) and not args.write
    try:
        if whatif:
            return _gate_whatif(
                run_dir,
                gates,
                warmup_s=warmup_s,
                measured_from_s=measured_from_s,
                step_summary=Path(step_summary) if step_summary else None,
            )
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
    except ValueError as exc:  # records.py: an unreadable requests.csv, one line naming the file
        if not str(exc).startswith(str(requests_csv)):
            raise
        raise ConfigError(f"{_one_line(exc)}; give the directory of a finished run") from None
    print(format_summary(tables.summary))
    if not tables.records:
        print(f"bench: {requests_csv} holds no requests (only its header): the run sent none")
    for line in (open_loop_line(tables) if tables.arrival is not None else "", late_line(tables)):
        if line:  # an open-loop run's schedule, as its closing lines said it
            print(line)
    written = "summary.csv, errors.csv, timeseries.csv" + (
        ", gates.json, junit.xml, summary.md" if gates else ""
    )
    if tables.capacity is not None:
        written += ", capacity.csv, capacity.json, report.html"
        print("bench: " + tables.capacity.recommendation.text)
    print(f"bench: wrote {written} in {run_dir} from {tables.records} requests")
    return _gate_verdict(tables.gates)


def _gate_verdict(results: Sequence[GateResult]) -> int:
    """Print the gates (if any) and their verdict; the exit code: 3 when one failed."""
    from bench.report import format_gates

    if not results:
        return 0
    passed = all(r.passed for r in results)
    print(format_gates(results))
    print("bench: all gates passed" if passed else "bench: GATES FAILED (exit code 3)")
    return 0 if passed else 3


def _gate_whatif(
    run_dir: Path,
    gates: Sequence[GateSpec],
    *,
    warmup_s: float,
    measured_from_s: float | None,
    step_summary: Path | None,
) -> int:
    """Gates given after the run, evaluated as the run's own are (same records, window and code),
    written into ``RUN/whatif/``: summary.csv, gates.json, junit.xml, summary.md."""
    from bench.analysis import load_records, summarize
    from bench.analysis.gates import evaluate_gates
    from bench.analysis.openloop import from_run_info
    from bench.analysis.records import REPORT_COLUMNS, take_measured
    from bench.report import REQUESTS_CSV, format_summary, read_run_json
    from bench.report.gatefiles import write_gate_files

    records = load_records(run_dir / REQUESTS_CSV, tuple(c for c in REPORT_COLUMNS if c != "step"))
    total = len(records)
    window = take_measured(records, warmup_s, measured_from_s)
    del records
    results = evaluate_gates(window, gates)
    summary = summarize(window, from_run_info(read_run_json(run_dir)))
    del window
    out_dir = run_dir / WHATIF_DIR
    out_dir.mkdir(exist_ok=True)
    summary.to_csv(out_dir / "summary.csv", index=False, float_format="%.3f")
    write_gate_files(out_dir, results, summary, step_summary=step_summary, run_dir=run_dir)
    print(format_summary(summary))
    print(
        f"bench: what-if: wrote summary.csv, gates.json, junit.xml, summary.md in {out_dir} from {total} "
        f"requests; the run's own files are unchanged (--write replaces them)"
    )
    return _gate_verdict(results)


def _check_run_files(run_dir: Path) -> None:
    """What ``bench report`` and ``bench gate`` read, checked before anything is written: a file that
    cannot be read is one line naming it (a header-only requests.csv is an empty run, not an error)."""
    from bench.analysis.records import header_end_offset
    from bench.report import ERROR_SAMPLES_JSON, REQUESTS_CSV, read_run_json
    from bench.report.rundir import RUN_JSON
    from bench.report.tables import read_error_samples

    requests_csv = run_dir / REQUESTS_CSV
    advice = "give the directory of a finished run (reports/<stamp>-<name>)"
    with requests_csv.open("rb") as handle:
        first = handle.readline(1 << 16)
    if not first:
        raise ConfigError(f"{requests_csv} is empty (0 bytes, not even its header line); {advice}")
    if b"timestamp_s" not in first:
        raise ConfigError(f"{requests_csv} is not a requests.csv of this harness (no header line); {advice}")
    try:
        header_end_offset(requests_csv)  # every column there
    except ValueError as exc:  # it names the file and the missing columns, and asks the question
        raise ConfigError(_one_line(exc)) from None
    for name, read in ((RUN_JSON, read_run_json), (ERROR_SAMPLES_JSON, read_error_samples)):
        try:
            read(run_dir)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
            raise ConfigError(
                f"{run_dir / name}: unreadable ({_one_line(exc)}); fix or remove the file"
            ) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _selfbench(args: argparse.Namespace) -> int:
    from bench.reportbench import (
        REPORT_CSV,
        REPORT_ROWS,
        REPORT_ROWS_QUICK,
        format_report_read,
        run_report_read,
    )
    from bench.selfbench import format_table, run_selfbench
    from bench.selfbench_openloop import OPEN_LOOP_CSV, OpenLoopResult, format_open_loop, run_open_loop

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
    if args.open_loop_steps < 0:
        raise ConfigError("--open-loop-steps must be 0 (skip the open loop) or more")
    written = []
    open_loop: list[OpenLoopResult] = []
    if not args.report_only:
        rows = run_selfbench(args.out, seconds=seconds, users=users, quick=args.quick, trials=args.trials)
        written.append(args.out / "selfbench.csv")
        if args.open_loop_steps:
            open_loop = run_open_loop(
                args.out, rows, seconds=seconds, users=users, steps=args.open_loop_steps,
                arrival=args.open_loop_arrival, quick=args.quick,
            )  # fmt: skip
            written.append(args.out / OPEN_LOOP_CSV)
    report = run_report_read(args.out, rows=report_rows) if report_rows else None
    if not args.report_only:
        if args.quick:
            print("bench: --quick: one 2-second window per variant with 4 users (not a measurement)")
        print(format_table(rows))
        if open_loop:
            print("\n" + format_open_loop(open_loop))
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
