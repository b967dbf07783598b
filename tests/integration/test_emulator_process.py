"""The auto-started emulator's process: it never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support import ROOT, wait_until

STARTER = (
    "from bench.emulator.process import start_emulator\n"
    "emulator = start_emulator()\n"
    "print(emulator.pid, flush=True)\n"
    "import time; time.sleep(60)\n"
)


def _alive(pid: int) -> bool:
    """Running (a zombie left for an init that does not reap has exited: it counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_emulator_whose_starter_is_killed_outright_exits_by_itself() -> None:
    """SIGKILL (or a SIGTERM before Locust's handler is in place) runs no atexit: the child notices."""
    starter = subprocess.Popen([sys.executable, "-c", STARTER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert starter.stdout is not None
    pid = int(starter.stdout.readline())
    try:
        assert _alive(pid)
        starter.send_signal(signal.SIGKILL)
        starter.wait(timeout=10)
        # It checks for its parent every 0.5 s: 10 s leaves a busy machine plenty.
        wait_until(lambda: not _alive(pid), 10.0, what="the emulator outlived the process that started it")
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
