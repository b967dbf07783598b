"""The load-generator health verdict."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import msgpack
import pandas as pd

from bench.analysis import summarize
from bench.analysis.records import records_frame
from bench.collect import RequestRecord
from bench.collect.health import assess, combine, report_from_dict
from bench.report import RunTables
from bench.report.closing import closing_lines


def test_a_calm_load_generator_is_valid() -> None:
    report = assess([0.3, 0.4, 0.5, 0.45], [0.2, 0.5, 1.0, 0.3])
    assert report.valid
    assert report.reasons == ()
    assert report.processes_needed == 1


def test_saturation_and_lag_make_a_run_invalid_and_say_how_many_processes() -> None:
    report = assess([0.99] * 20, [2.0] * 20)
    assert not report.valid
    assert report.reasons == ("load generator CPU p95 99% of a core (limit 90%)",)
    assert report.processes_needed == 2  # 0.99 of a core at 0.7 a process
    lagging = assess([0.5] * 100, [1.0] * 98 + [150.0, 200.0])
    assert not lagging.valid
    assert "event-loop lag p99" in lagging.reasons[0]
    assert lagging.lag_max_ms == 200.0


def test_no_samples_is_not_a_verdict_against_the_run() -> None:
    assert assess([], []).valid


def test_a_distributed_verdict_combines_the_workers_as_shipped() -> None:
    calm = assess([0.3, 0.4, 0.5, 0.45], [0.2, 0.5, 1.0, 0.3])
    busy = assess([0.99] * 20, [2.0] * 20)
    # shipped as Locust's messaging does: a dict through msgpack (tuples come back as lists)
    shipped = {w: msgpack.unpackb(msgpack.packb(asdict(r))) for w, r in (("w1", calm), ("w2", busy))}
    received = {w: report_from_dict(d) for w, d in shipped.items()}
    assert received["w2"] == busy
    verdict = combine(received)
    assert not verdict.valid
    assert verdict.reasons == ("worker w2: load generator CPU p95 99% of a core (limit 90%)",)
    assert verdict.processes_needed == 1 + 2
    assert verdict.cpu_p95 == busy.cpu_p95
    assert verdict.samples == calm.samples + busy.samples
    assert combine({"w1": calm}).valid
    assert combine({}).valid


def _tables() -> RunTables:
    records = [
        RequestRecord(1000.0 + i, 1000.0 + i, "local", "U", "invoke", "ep", "ep", None, None, None, 1, None,
                      "ok", None, None, 200, 5.0)
        for i in range(10)
    ]  # fmt: skip
    summary = summarize(records_frame(records))
    return RunTables(summary, pd.DataFrame(), pd.DataFrame(), records=10, measured_records=10)


def test_the_closing_advice_names_the_real_bound() -> None:
    busy = assess([0.99] * 20, [2.0] * 20)
    lines = closing_lines(
        _tables(), run_dir=Path("r"), warmup_s=0.0, invalid_reasons=busy.reasons,
        processes_needed=busy.processes_needed, cpu_mean=busy.cpu_mean, require_valid=True,
    ).lines  # fmt: skip
    assert any("run with about 2 worker processes (locust --processes 2)" in line for line in lines)
    assert "bench: --require-valid: the run fails (exit code 3)" in lines
    # lag with an idle generator: more processes would not help; something else had the CPU
    lagging = assess([0.3] * 100, [1.0] * 98 + [150.0, 200.0])
    closing = closing_lines(
        _tables(), run_dir=Path("r"), warmup_s=0.0, invalid_reasons=lagging.reasons,
        processes_needed=lagging.processes_needed, cpu_mean=lagging.cpu_mean,
    )  # fmt: skip
    advice = next(line for line in closing.lines if "INVALID run" in line)
    assert "own CPU was not the bound (mean 30% of a core)" in advice
    assert "--processes" not in advice
    assert closing.passed is None
