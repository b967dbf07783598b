"""Sub-millisecond timers for the open loop: gevent's event loop on libev's ``select`` backend.

gevent's default libev backend, epoll, waits in whole milliseconds (libev rounds a wait up to the
next millisecond, and never waits less than one), so a user sleeping until its send time wakes up to
a millisecond late: measured on this harness at 400 req/s, median schedule lag 0.48 ms and 138 of
1,580 requests late by perf_analyzer's 1 ms tolerance; on ``select`` (microsecond waits) 0.12 ms and 12 of 1,576.
The loop is made before the locustfile is imported (Locust imports gevent first), so its backend is
chosen by ``GEVENT_BACKEND`` at process start: an open-loop run (``--arrival-rate``, ``--rates`` or
their ``BENCH_*`` variables), a worker (its rate comes from the master) and the web UI (its start
form may set a rate) start themselves again with ``GEVENT_BACKEND=select``, once, before anything
else happens; a headless closed-loop run keeps the default. Given ``GEVENT_BACKEND`` is kept.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence

logger = logging.getLogger("bench")
PRECISE_BACKEND = "select"
_OPEN_LOOP_FLAGS = ("--arrival-rate", "--rates")
_OPEN_LOOP_VARIABLES = ("BENCH_ARRIVAL_RATE", "BENCH_RATES")
_RESTARTED = "BENCH_RESTARTED_FOR_TIMERS"


def wants_precise_timers(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether this Locust command line runs (or may run) the open loop: its flags, their variables,
    a worker (told the rate by its master), or the web UI (its start form may set a rate)."""
    if environ.get("GEVENT_BACKEND") or environ.get(_RESTARTED):
        return False
    flags = {arg.split("=", 1)[0] for arg in argv}
    if flags & {"--worker", *_OPEN_LOOP_FLAGS} or any(environ.get(name) for name in _OPEN_LOOP_VARIABLES):
        return True
    headless = "--headless" in flags or environ.get("LOCUST_HEADLESS", "").lower() in ("1", "true", "yes")
    return not headless  # the web UI: its start form may set a rate


def loop_backend() -> str | None:
    from gevent._hub_local import get_hub_if_exists

    hub = get_hub_if_exists()
    return str(hub.loop.backend) if hub is not None else None


def ensure_precise_timers() -> None:
    """Start this process again on the ``select`` backend when it runs the open loop on another one.
    Called from ``install()``, when the locustfile is imported: nothing has run yet."""
    if not wants_precise_timers(sys.argv[1:], os.environ) or loop_backend() in (None, PRECISE_BACKEND):
        return
    os.environ["GEVENT_BACKEND"] = PRECISE_BACKEND
    os.environ[_RESTARTED] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def coarse_timer_warning() -> str | None:
    """One line for an open-loop run on a millisecond event loop (e.g. its rate set in the web UI)."""
    backend = loop_backend()
    if backend in (None, PRECISE_BACKEND):
        return None
    return (
        f"the event loop's timers ({backend}) wait in whole milliseconds: sends may be up to 1 ms late; "
        "start locust with GEVENT_BACKEND=select (done by itself when --arrival-rate or --rates is given)"
    )
