"""What a run was: its configuration as JSON, package versions, git sha, times (for ``run.json``)."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import fields, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.gatespec import GateSpec


def config_dict(config: RunConfig) -> dict[str, Any]:
    """The configuration as JSON values: paths as text, gates and SLOs as their expressions."""
    return _plain(config)  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, GateSpec):
        return value.expression
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
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


def run_info(
    *,
    config: RunConfig,
    run_dir: Path,
    started_s: float,
    measured_from_s: float,
    ended_s: float | None,
    records: int | None,
    health: dict[str, Any] | None,
    lost_workers: list[dict[str, Any]],
    command_line: list[str],
    emulator_url: str | None,
    locust: dict[str, Any],
    versions: dict[str, str | None],
    sha: str | None,
    python: str,
    platform: str,
    arrival: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``run.json``: what the run was and, once it ended, how it went.

    ``measured_from_s`` is the run's one warm-up cut (wall clock): the live tab, the gates, ``--gate-abort``
    and the reports all leave out what started before it. ``arrival`` (open loop): the target rate
    (None for a rate-stepped run), the arrival process, its seed, and the sends made and not made.
    """
    return {
        "run_dir": str(run_dir),
        "started_at": iso_time(started_s),
        "started_s": started_s,
        "measured_from_s": measured_from_s,
        "measured_from": iso_time(measured_from_s),
        "ended_at": iso_time(ended_s),
        "records": records,
        "valid": health.get("valid") if health is not None else None,
        "lost_workers": lost_workers,
        "health": health,
        "arrival": arrival,
        "command_line": command_line,
        "config": config_dict(config),
        "emulator": {"url": emulator_url} if config.endpoint.emulated else None,
        "locust": locust,
        "versions": versions,
        "git_sha": sha,
        "host": {"python": python, "platform": platform},
    }
