"""Where a real ``locust`` process's web UI listens: 127.0.0.1 unless ``--web-host`` says otherwise.

The UI has no authentication and serves the run directory, so the harness does not take Locust's
default (every interface). Checked from the outside: the socket the process listens on (psutil) and
a connection to the machine's non-loopback address, which must be refused by default.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest
from support import free_port, start_locust, wait_for_web_ui

LINE = "bench: the web UI listens on http://127.0.0.1:{port} only; --web-host 0.0.0.0 exposes it"


def _external_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (``hostname -I``), if it has one."""
    try:
        done = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    for address in done.stdout.split():
        if "." in address and not address.startswith("127."):
            return address
    return None


def _connects(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def _listening(pid: int, port: int) -> set[str]:
    """The local addresses the process listens on at ``port``."""
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


@contextmanager
def _web_ui(*args: str) -> Iterator[tuple[subprocess.Popen[str], int, list[str]]]:
    """``locust`` with its web UI (and the built-in emulator) on a free port; its output once stopped."""
    port = free_port()
    output: list[str] = []
    locust = start_locust(
        "--web-port", str(port), *args, "TritonUser",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_web_ui(f"http://127.0.0.1:{port}/", locust, timeout_s=20)
        yield locust, port, output
    finally:
        locust.terminate()
        try:
            out, _ = locust.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            locust.kill()
            out, _ = locust.communicate()
        output.append(out)


def test_by_default_the_web_ui_listens_on_loopback_only() -> None:
    external = _external_address()
    with _web_ui() as (locust, port, output):
        bound = _listening(locust.pid, port)
        reached_from_outside = _connects(external, port) if external else None
    assert bound == {"127.0.0.1"}, bound
    if external is not None:
        assert reached_from_outside is False, f"the web UI answered on {external}:{port}"
    assert LINE.format(port=port) in output[0], output[0][-2000:]


@pytest.mark.parametrize("host", ["0.0.0.0", "*"])
def test_web_host_exposes_it_on_every_interface(host: str) -> None:
    external = _external_address()
    with _web_ui("--web-host", host) as (locust, port, output):
        bound = _listening(locust.pid, port)
        reached_from_outside = _connects(external, port) if external else None
    assert len(bound) == 1, bound
    assert bound <= {"0.0.0.0", "::"}, bound  # "*" is Locust's "": gevent binds the dual-stack "::"
    if external is not None:
        assert reached_from_outside is True, f"the web UI did not answer on {external}:{port}"
    assert f"bench: the web UI listens on all interfaces, port {port}, without authentication" in output[0]
