"""The load-generator health verdict."""

from __future__ import annotations

from bench.collect.health import assess


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
