"""When a Locust process starts itself again on gevent's select backend (sub-millisecond timers)."""

from __future__ import annotations

import pytest

from bench.plugin.timers import wants_precise_timers


@pytest.mark.parametrize(
    ("argv", "environ", "wanted"),
    [
        (["-f", "x.py", "--arrival-rate", "200"], {}, True),
        (["-f", "x.py", "--arrival-rate=200"], {}, True),
        (["-f", "x.py", "--rates", "100,200"], {}, True),
        (["-f", "x.py", "--worker"], {}, True),  # a worker is told its rate by the master
        (["-f", "x.py"], {"BENCH_ARRIVAL_RATE": "50"}, True),
        (["-f", "x.py"], {"BENCH_RATES": "auto"}, True),
        (["-f", "x.py", "-u", "8"], {}, False),  # closed loop: the default backend
        (["-f", "x.py", "--arrival-rate", "200"], {"GEVENT_BACKEND": "epoll"}, False),  # given: kept
        (["-f", "x.py", "--arrival-rate", "200"], {"BENCH_RESTARTED_FOR_TIMERS": "1"}, False),  # once only
        (["-f", "x.py", "--arrival", "poisson"], {}, False),  # the process alone is not the open loop
    ],
)
def test_wants_precise_timers(argv: list[str], environ: dict[str, str], wanted: bool) -> None:
    assert wants_precise_timers(argv, environ) is wanted
