"""Cores of their own for the built-in emulator and the load generator on one machine.

Measured on the 2-core machine this project is built on: Poisson arrivals at 500 req/s to the
emulator's demo-triton sent 5.0% of requests more than 1 ms late with both processes free to share
both cores (the kernel puts them on one core now and then, and a sleeping load generator waits for the
emulator's time slice to wake up), and 0.68% with the emulator on one core and the load generator on
the other. So when the harness starts the emulator itself and may use two cores or more, the emulator
gets the last allowed core and the load generator (this process, and the workers ``--processes``
forked from it) the others (``os.sched_setaffinity``; Linux), unless there are more load processes
than cores left (``--processes 2`` on two cores: then nothing is pinned). Workers on other machines
keep theirs.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Set
from typing import Any

from bench.cpus import allowed_cpus, pin, split_cpus

logger = logging.getLogger("bench")
LOAD_CPUS = (
    "bench_load_cpus"  # on parsed_options: {"cpus": [...], "host": ..., "pid": ...} for forked workers
)


def pin_emulator_apart(emulator_pid: int, options: Any) -> str:
    """Put the emulator on a core of its own and this process on the rest; what was done, for a line."""
    split = split_cpus(allowed_cpus())
    if split is None or _load_processes(options) > len(split[1]):
        return ""  # more load processes than the cores left: the kernel spreads them best
    emulator_cpus, load_cpus = split
    if not (pin(emulator_pid, emulator_cpus) and pin(0, load_cpus)):
        return ""
    setattr(options, LOAD_CPUS, {"cpus": sorted(load_cpus), "host": socket.gethostname(), "pid": os.getpid()})
    return f"the emulator on CPU {_cpus(emulator_cpus)}, the load generator on CPU {_cpus(load_cpus)}"


def _load_processes(options: Any) -> int:
    """The processes that send from this machine: the workers ``--processes`` forks, else this one."""
    processes = int(getattr(options, "processes", None) or 0)
    if processes == -1:
        return os.cpu_count() or 1
    return max(1, processes)


def pin_forked_worker(options: Any) -> None:
    """A worker forked by ``--processes`` on the master's machine joins the load generator's cores."""
    shipped = getattr(options, LOAD_CPUS, None)
    if not isinstance(shipped, dict):
        return
    if shipped.get("host") != socket.gethostname() or shipped.get("pid") != os.getppid():
        return  # a worker of its own machine: its cores are its own
    cpus = {int(c) for c in shipped.get("cpus", [])}
    if cpus and cpus != allowed_cpus() and not pin(0, cpus):
        logger.warning("could not keep this worker off the emulator's core")


def _cpus(cpus: Set[int]) -> str:
    ordered = sorted(cpus)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(str(c) for c in ordered)
