"""The load-generator health verdict."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

import msgpack
import pandas as pd

from bench.analysis import summarize
from bench.analysis.records import records_frame
from bench.collect import RequestRecord
from bench.collect.health import (
    HEALTH_CSV,
    HealthMonitor,
    HealthSample,
    assess,
    assess_window,
    combine,
    read_health_csv,
    report_from_dict,
    report_summary,
)
from bench.report import RunTables
from bench.report.closing import closing_lines
from bench.report.healthfiles import write_health_samples


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


# ---- samples in time: per-window verdicts, shipped by workers, written to health.csv -------------


def _shipped(data: object) -> object:
    """Through Locust's messaging: msgpack (tuples come back as lists)."""
    return msgpack.unpackb(msgpack.packb(data))


def test_the_monitor_keeps_every_sample_with_its_wall_clock_time() -> None:
    monitor = HealthMonitor(interval_s=0.02, warmup_s=60.0)  # all of it warm-up: kept, not judged
    before = time.time()
    monitor.start()
    time.sleep(0.3)  # gevent's sleep (Locust patched time): the sampler is a greenlet
    report = monitor.stop()
    after = time.time()
    (samples,) = report.timelines.values()
    assert list(report.timelines) == ["local"]
    assert len(samples) >= 3
    assert all(before - 0.001 <= s.timestamp_s <= after + 0.001 for s in samples)  # kept to the ms
    assert [s.timestamp_s for s in samples] == sorted(s.timestamp_s for s in samples)
    assert report.samples == 0
    assert report.valid
    time.sleep(0.05)
    assert len(monitor.timeline) == len(samples)  # stopped: no more samples


def test_a_workers_samples_reach_the_master_under_its_name() -> None:
    samples = (HealthSample(100.0, 0.5, 1.0), HealthSample(100.5, 0.97, 2.0))
    report = replace(assess([0.5, 0.97], [1.0, 2.0]), timelines={"local": samples})
    received = report_from_dict(_shipped(asdict(report)))  # type: ignore[arg-type]
    assert received == report
    verdict = combine({"w1": received, "w2": report_from_dict(_shipped(asdict(assess([0.2], [1.0]))))})  # type: ignore[arg-type]
    assert verdict.timelines == {"w1": samples}  # as requests.csv names the worker
    old = {k: v for k, v in asdict(assess([0.3], [1.0])).items() if k != "timelines"}  # an older worker
    assert report_from_dict(old).timelines == {}
    assert "timelines" not in report_summary(report)


def test_a_window_is_judged_on_its_own_samples() -> None:
    calm = [HealthSample(100.0 + 0.5 * i, 0.40, 1.0) for i in range(20)]  # 100.0 .. 109.5
    busy = [HealthSample(110.0 + 0.5 * i, 0.97, 3.0) for i in range(20)]  # 110.0 .. 119.5
    timelines = {"local": calm + busy}
    whole = assess([s.cpu for s in calm + busy], [s.lag_ms for s in calm + busy])
    assert whole.cpu_mean < 0.7  # the mean over the whole run hides the saturated end
    first, last = assess_window(timelines, 100.0, 109.9), assess_window(timelines, 110.0, 119.9)
    assert first.valid
    assert first.samples == 20
    assert not last.valid
    assert last.reasons == ("load generator CPU p95 97% of a core (limit 90%)",)
    assert assess_window(timelines, 200.0, 210.0).samples == 0  # nothing there: not judged
    two = assess_window({"w1": calm + busy, "w2": calm}, 110.0, 119.9)
    assert two.reasons == ("worker w1: load generator CPU p95 97% of a core (limit 90%)",)


def test_health_csv_round_trip(tmp_path: Path) -> None:
    w1 = (HealthSample(100.5, 0.25, 1.5), HealthSample(101.0, 0.5, 30.25))
    w2 = (HealthSample(100.75, 0.125, 0.5),)
    path = write_health_samples(tmp_path, {"w1": w1, "w2": w2})
    assert path == tmp_path / HEALTH_CSV
    lines = path.read_text().splitlines()
    assert lines == [
        "timestamp_s,cpu,lag_ms,worker",
        "100.500,0.2500,1.500,w1",
        "100.750,0.1250,0.500,w2",
        "101.000,0.5000,30.250,w1",
    ]
    assert read_health_csv(path) == {"w1": w1, "w2": w2}
    assert read_health_csv(tmp_path / "absent.csv") is None
