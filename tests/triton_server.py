"""A real Triton Inference Server (2.51, with its SageMaker frontend) for the conformance tests.

The server ships inside the ``nvidia-pytriton`` 0.7.0 wheel on the package registry. ``ensure_triton``
downloads the wheel once into a cache directory outside the virtualenv (which keeps numpy 2), unpacks
it, puts the Python backend stub where the backend looks for it, and installs numpy < 2 for the stub
(which embeds the system's Python 3.11 and ignores PYTHONPATH: the models in tests/triton/models add
``BENCH_TRITON_PYDEPS`` to ``sys.path`` themselves). ``TritonServer`` runs ``tritonserver
--allow-sagemaker=true`` on free loopback ports with one model as the SageMaker default model.

Triton 2.51 has no option for the SageMaker frontend's address: it listens on 0.0.0.0. The tests send
traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from support import free_port, wait_until

from bench.config import DATATYPES

PYTRITON = "nvidia-pytriton==0.7.0"
# The Python backend has no numpy type for BF16, so the real identity model covers the other 13.
PYTHON_BACKEND_DATATYPES = tuple(d for d in DATATYPES if d != "BF16")
MODELS = Path(__file__).resolve().parent / "triton" / "models"
CACHE = Path(os.environ.get("BENCH_TRITON_CACHE", Path.home() / ".cache" / "sagemaker-bench" / "triton-2.51"))


@dataclass(frozen=True)
class TritonInstall:
    root: Path

    @property
    def binary(self) -> Path:
        return self.root / "pytriton" / "tritonserver" / "bin" / "tritonserver"

    @property
    def backends(self) -> Path:
        return self.root / "pytriton" / "tritonserver" / "backends"

    @property
    def libs(self) -> Path:
        return self.root / "nvidia_pytriton.libs"

    @property
    def pydeps(self) -> Path:
        return self.root / "pydeps"


def ensure_triton(cache: Path = CACHE) -> TritonInstall:
    """Download and prepare the server once; later calls reuse the cache."""
    install = TritonInstall(cache)
    ready = cache / ".ready"
    if ready.exists():
        return install
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PYTRITON, "-d", download],
            check=True,
            capture_output=True,
        )
        (wheel,) = Path(download).glob("nvidia_pytriton-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith(("pytriton/tritonserver/", "nvidia_pytriton.libs/")):
                    archive.extract(name, cache)
    for executable in (
        install.binary,
        *install.root.glob("pytriton/tritonserver/python_backend_stubs/*/triton_python_backend_stub"),
    ):
        executable.chmod(executable.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    stub = (
        install.root
        / "pytriton"
        / "tritonserver"
        / "python_backend_stubs"
        / "3.11"
        / "triton_python_backend_stub"
    )
    shutil.copy2(stub, install.backends / "python" / "triton_python_backend_stub")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(install.pydeps),
            "numpy<2",
        ],
        check=True,
        capture_output=True,
    )
    ready.touch()
    return install


class TritonServer:
    """``tritonserver`` with the SageMaker frontend; ``sagemaker_url`` serves /ping and /invocations."""

    def __init__(
        self, install: TritonInstall, default_model: str, models: tuple[str, ...], log_dir: Path
    ) -> None:
        self.sagemaker_port, self.http_port = free_port(), free_port()
        self.sagemaker_url = f"http://127.0.0.1:{self.sagemaker_port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.log = log_dir / f"tritonserver-{default_model}.log"
        env = dict(os.environ)
        env.update(
            LD_LIBRARY_PATH=os.pathsep.join(
                p for p in (str(install.libs), env.get("LD_LIBRARY_PATH", "")) if p
            ),
            BENCH_TRITON_PYDEPS=str(install.pydeps),
            SAGEMAKER_TRITON_DEFAULT_MODEL_NAME=default_model,
        )
        command = [
            str(install.binary),
            f"--model-repository={MODELS}",
            f"--backend-directory={install.backends}",
            "--model-control-mode=explicit",
            *[f"--load-model={m}" for m in models],
            "--allow-sagemaker=true",
            f"--sagemaker-port={self.sagemaker_port}",
            "--allow-http=true",
            "--http-address=127.0.0.1",
            f"--http-port={self.http_port}",
            "--allow-grpc=false",
            "--allow-metrics=false",
            "--log-verbose=0",
        ]
        self._log_file = self.log.open("wb")
        self._process = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)
        self._wait_ready(timeout_s=90.0)

    def _wait_ready(self, timeout_s: float) -> None:
        def ready() -> bool:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"tritonserver exited with {self._process.returncode}; see {self.log}:\n{self._tail()}"
                )
            try:
                with urllib.request.urlopen(self.sagemaker_url + "/ping", timeout=1) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        try:
            wait_until(ready, timeout_s, 0.25, what="tritonserver answering /ping")
        except AssertionError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; see {self.log}:\n{self._tail()}") from None

    def _tail(self) -> str:
        return self.log.read_bytes()[-3000:].decode("utf-8", errors="replace")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log_file.close()
