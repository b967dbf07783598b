"""Run the emulator as a child process (its own process group), for tests and the harness.

The emulator never runs inside the gevent-patched Locust process: ``start_emulator`` launches
``python -m bench.emulator``, waits for its one "listening" line and returns the URL. The child's
stdout is drained by a daemon thread and its stderr goes to a temporary file, so it can never block
on a full pipe. This module imports no aiohttp, numpy or Triton code.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

from bench.errors import ConfigError

STOP_GRACE_S = 5.0
_LISTENING = re.compile(r"^bench emulator listening on (?P<url>http://\S+) \(endpoints: (?P<endpoints>.*)\)$")
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory holding the ``bench`` package
PARENT_PID_ENV = "BENCH_EMULATOR_PARENT_PID"  # set for the child: it exits when that process is gone


class EmulatorProcess:
    """A running emulator child: ``url``, ``endpoints``, ``pid``; ``stop()`` is idempotent."""

    def __init__(
        self, process: subprocess.Popen[str], url: str, endpoints: list[str], stderr: IO[bytes]
    ) -> None:
        self.url = url
        self.endpoints = endpoints
        self.pid = process.pid
        self._process = process
        self._stderr = stderr
        # Also runs at interpreter exit; a forked child (locust --processes) never stops its parent's emulator.
        self._finalizer = weakref.finalize(self, _terminate, process, stderr, os.getpid())

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call more than once."""
        self._finalizer()

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorProcess(url={self.url!r}, pid={self.pid}, endpoints={self.endpoints})"


def start_emulator(
    config_path: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout_s: float = 20.0,
    container: str | None = None,
    upstream: str | None = None,
    upstream_stream_path: str | None = None,
    verify_sigv4: bool = False,
    credentials: Mapping[str, str] | None = None,
    record_requests: int = 0,
) -> EmulatorProcess:
    """Start ``python -m bench.emulator`` and return once it listens; ConfigError if it cannot start.

    ``container=NAME`` also serves ``POST /invocations`` as that endpoint's model container.
    ``upstream=URL`` runs proxy mode in front of that container (``endpoints`` is then ``["upstream"]``);
    ``upstream_stream_path`` is where response-stream invocations go on it (default ``/invocations``).
    ``verify_sigv4`` checks every request's SigV4 signature against ``credentials`` (access key ->
    secret; default AWS's example pair, ``bench.emulator.sigv4``): test keys only, they travel on the
    child's command line. ``record_requests=N`` keeps the last N requests for ``/_emulator/last-requests``.
    """
    command = [sys.executable, "-m", "bench.emulator", "--host", host, "--port", str(port)]
    if config_path is not None:
        command += ["--config", str(config_path)]
    if container is not None:
        command += ["--container", container]
    if upstream is not None:
        command += ["--upstream", upstream]
    if upstream_stream_path is not None:
        command += ["--upstream-stream-path", upstream_stream_path]
    if verify_sigv4:
        command.append("--verify-sigv4")
        for key, secret in (credentials or {}).items():
            command += ["--sigv4-credential", f"{key}:{secret}"]
    if record_requests:
        command += ["--record-requests", str(record_requests)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_PID_ENV] = str(os.getpid())  # it exits if this process dies without stopping it
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop() or when the start fails
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_drain, args=(process, lines), name="bench-emulator-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            _terminate(process, None)
            message = _last_line(stderr) or "no output"
            stderr.close()
            raise ConfigError(f"the emulator did not start within {timeout_s:g} s: {message}") from None
        if line is None:
            process.wait()
            message = _last_line(stderr) or f"exit status {process.returncode}"
            stderr.close()
            raise ConfigError(message.removeprefix("bench emulator: "))
        match = _LISTENING.match(line.strip())
        if match:
            endpoints = [e for e in match.group("endpoints").split(", ") if e]
            return EmulatorProcess(process, match.group("url"), endpoints, stderr)


def _drain(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    """Forward stdout lines until the child closes it, then ``None``; keeps the pipe from filling."""
    if process.stdout is None:
        return
    for line in process.stdout:
        lines.put(line)
    lines.put(None)


def _last_line(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    text = stderr.read().decode("utf-8", errors="replace")
    stripped = [line.strip() for line in text.splitlines() if line.strip()]
    return stripped[-1] if stripped else ""


def _terminate(
    process: subprocess.Popen[str], stderr: IO[bytes] | None, owner_pid: int | None = None
) -> None:
    if owner_pid is not None and owner_pid != os.getpid():
        return
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
    if stderr is not None and not stderr.closed:
        stderr.close()


def _signal_group(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    """Signal the child's own process group (it was started in a new session), else the child."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signum)
        else:  # pragma: no cover - not POSIX
            process.send_signal(signum)
    except ProcessLookupError:
        pass
