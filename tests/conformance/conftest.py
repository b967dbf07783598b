"""Real Triton servers for the conformance tests (one per SageMaker default model), started once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from triton_server import TritonInstall, TritonServer, ensure_triton


@pytest.fixture(scope="session")
def triton_install() -> TritonInstall:
    return ensure_triton()


@pytest.fixture(scope="session")
def triton_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("triton-logs")


def _server(install: TritonInstall, logs: Path, default: str, *models: str) -> Iterator[TritonServer]:
    server = TritonServer(install, default, (default, *models), logs)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def triton_add_sub(triton_install: TritonInstall, triton_logs: Path) -> Iterator[TritonServer]:
    """add_sub (dynamic batching) behind /invocations; the decoupled ``tokens`` model on the HTTP port."""
    yield from _server(triton_install, triton_logs, "add_sub", "tokens")


@pytest.fixture(scope="session")
def triton_identity(triton_install: TritonInstall, triton_logs: Path) -> Iterator[TritonServer]:
    yield from _server(triton_install, triton_logs, "identity_all")


@pytest.fixture(scope="session")
def triton_image_path(triton_install: TritonInstall, triton_logs: Path) -> Iterator[TritonServer]:
    yield from _server(triton_install, triton_logs, "image_path")
