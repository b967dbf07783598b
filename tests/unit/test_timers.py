"""When a Locust process starts itself again on gevent's select backend (sub-millisecond timers)."""

from __future__ import annotations

import pytest

from bench.plugin.timers import wants_precise_timers


@pytest.mark.parametrize(
    ("argv", "environ", "wanted"),
    [
        (["-f", "x.py", "--headless", "--arrival-rate", "200"], {}, True),
        (["-f", "x.py", "--arrival-rate=200"], {}, True),
        (["-f", "x.py", "--rates", "100,200"], {}, True),
        (["-f", "x.py", "--worker"], {}, True),  # a worker is told its rate by the master
        (["-f", "x.py", "--headless"], {"BENCH_ARRIVAL_RATE": "50"}, True),
        (["-f", "x.py", "--headless"], {"BENCH_RATES": "auto"}, True),
        (["-f", "x.py"], {}, True),  # the web UI: its start form may set a rate
        (["-f", "x.py", "--headless", "-u", "8"], {}, False),  # headless closed loop: the default backend
        (["-f", "x.py", "-u", "8"], {"LOCUST_HEADLESS": "true"}, False),
        (["-f", "x.py", "--arrival-rate", "200"], {"GEVENT_BACKEND": "epoll"}, False),  # given: kept
        (["-f", "x.py", "--arrival-rate", "200"], {"BENCH_RESTARTED_FOR_TIMERS": "1"}, False),  # once only
        (
            ["-f", "x.py", "--headless", "--arrival", "poisson"],
            {},
            False,
        ),  # the process alone is no open loop
    ],
)
def test_wants_precise_timers(argv: list[str], environ: dict[str, str], wanted: bool) -> None:
    assert wants_precise_timers(argv, environ) is wanted
