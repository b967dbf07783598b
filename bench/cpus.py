"""Which cores a process may run on, and putting one on chosen cores (Linux ``sched_setaffinity``).

Used to keep the built-in emulator and the load generator on cores of their own: by the glue for a
run (``bench.plugin.cpus``, where the measurement behind it is told) and by ``bench selfbench``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Set
from contextlib import contextmanager


def split_cpus(allowed: Set[int]) -> tuple[set[int], set[int]] | None:
    """(the emulator's cores, the load generator's) out of the cores allowed; None below two."""
    if len(allowed) < 2:
        return None
    emulator = max(allowed)
    return {emulator}, set(allowed) - {emulator}


def allowed_cpus() -> set[int]:
    getter = getattr(os, "sched_getaffinity", None)
    return set(getter(0)) if getter is not None else set()


def pin(pid: int, cpus: Set[int]) -> bool:
    """``pid`` (0: this process) on ``cpus``; False (and nothing changed) where that cannot be done."""
    setter = getattr(os, "sched_setaffinity", None)
    if setter is None or not cpus:
        return False
    try:
        setter(pid, set(cpus))
    except OSError:
        return False
    return True


@contextmanager
def apart(emulator_pid: int) -> Iterator[str]:
    """While the block runs: the emulator on the last allowed core, this process (and the processes it
    starts) on the others; then this process as it was. Yields what was done, "" when nothing was."""
    before = allowed_cpus()
    split = split_cpus(before)
    if split is None or not (pin(emulator_pid, split[0]) and pin(0, split[1])):
        yield ""
        return
    try:
        yield f"the emulator on CPU {min(split[0])}, the load on CPU {','.join(str(c) for c in sorted(split[1]))}"
    finally:
        pin(0, before)
