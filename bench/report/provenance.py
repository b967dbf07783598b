"""What a run was: its configuration as JSON, package versions, git sha, times (for ``run.json``)."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.config import RunConfig


def config_dict(config: RunConfig) -> dict[str, Any]:
    data = asdict(config)
    return _paths_to_text(data)  # type: ignore[no-any-return]


def _paths_to_text(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _paths_to_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_paths_to_text(v) for v in value]
    return value


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for package in (
        "sagemaker-bench",
        "locust",
        "boto3",
        "botocore",
        "tritonclient",
        "numpy",
        "pandas",
        "aiohttp",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_sha() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def iso_time(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{int(epoch_s % 1 * 1000):03d}Z"


def json_text(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"
