"""Run directories: ``<report-dir>/<UTC yyyymmddTHHMMSSZ>-<slug>/``, and ``run.json`` in them."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

RUN_JSON = "run.json"


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[:60] or "run"


def new_run_dir(report_dir: Path, run_name: str, *, now_s: float | None = None) -> Path:
    """Create and return a fresh run directory (a suffix keeps two runs in one second apart)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now_s is None else now_s))
    base = report_dir / f"{stamp}-{slugify(run_name)}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


def write_run_json(run_dir: Path, info: dict[str, Any]) -> Path:
    """Write ``run.json`` atomically (a reader never sees half a file)."""
    path = run_dir / RUN_JSON
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_run_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_JSON
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def read_measured_from(run_dir: Path) -> float | None:
    """``run.json``'s ``measured_from_s``: the end of the run's warm-up (wall clock); None when the
    run directory has no such record (an older run: the warm-up then counts from the first request)."""
    value = read_run_json(run_dir).get("measured_from_s")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
