"""``health.csv``: the load generator's health samples, one row each, so any stretch of a run can be judged.

Columns: ``timestamp_s`` (wall clock, epoch seconds, when the sample was taken), ``cpu`` (the process's
CPU since the previous sample, as a fraction of one core), ``lag_ms`` (how late the sampler woke: the
event loop's lag), ``worker`` (the load process: ``local`` for one process, else the worker's id, as in
``requests.csv``). Rows are in time order, warm-up included. The capacity analysis judges each step on
the samples of its window (``bench.collect.health.assess_window``); ``bench report`` reads it back.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.collect.health import HEALTH_COLUMNS, HEALTH_CSV, HealthSample


def write_health_samples(run_dir: Path, samples_by_worker: Mapping[str, Sequence[HealthSample]]) -> Path:
    """Write ``health.csv`` into ``run_dir`` (a header only when there are no samples); return its path."""
    rows = sorted(
        (sample.timestamp_s, worker, sample)
        for worker, samples in samples_by_worker.items()
        for sample in samples
    )
    path = run_dir / HEALTH_CSV
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEALTH_COLUMNS)
        for _, worker, sample in rows:
            writer.writerow(
                (f"{sample.timestamp_s:.3f}", f"{sample.cpu:.4f}", f"{sample.lag_ms:.3f}", worker)
            )
    return path
