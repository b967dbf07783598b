"""Which cores the auto-started emulator and the load generator get (bench.plugin.cpus)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.cpus import allowed_cpus, pin, split_cpus


def test_the_emulator_gets_the_last_core_and_the_load_generator_the_rest() -> None:
    assert split_cpus({0, 1}) == ({1}, {0})
    assert split_cpus({0, 1, 2, 3}) == ({3}, {0, 1, 2})
    assert split_cpus({2, 5, 7}) == ({7}, {2, 5})  # a container's cpuset
    assert split_cpus({0}) is None  # one core: nothing to split
    assert split_cpus(set()) is None


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_pin_moves_a_real_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        cpu = min(allowed_cpus())
        assert pin(child.pid, {cpu})
        assert os.sched_getaffinity(child.pid) == {cpu}
        assert not pin(child.pid, set())  # nothing to pin to: left alone
        assert not pin(2**22 + 12345, {cpu})  # no such process: False, no exception
    finally:
        child.kill()
        child.wait()
