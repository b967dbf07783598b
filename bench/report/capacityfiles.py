"""The capacity report files: ``capacity.csv``, ``capacity.json`` and the self-contained ``report.html``.

``capacity.json`` says which loop the run was (``loop``: ``closed`` for ``--steps``, ``open`` for
``--rates``) and what its figures rest on (``note``), then the recommendation, the inputs and the steps.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.analysis.capacity import CapacityReport, steps_table

CAPACITY_CSV = "capacity.csv"
CAPACITY_JSON = "capacity.json"
REPORT_HTML = "report.html"


def write_capacity_files(run_dir: Path, report: CapacityReport, *, endpoint: str) -> Path:
    """Write the three files into ``run_dir``; return the path of ``report.html``."""
    from bench.report.html import render_capacity_html

    steps_table(report.steps).to_csv(run_dir / CAPACITY_CSV, index=False, float_format="%.4f")
    rec = report.recommendation
    document = {
        # closed: steps of users (--steps), whose figures overstate open traffic; open: steps of arrival
        # rate (--rates), an SLO on latency judged on the effective latency
        "loop": rec.loop,
        "note": rec.note,
        "recommendation": _clean(asdict(rec)),
        "inputs": _clean(asdict(report.inputs)),
        "steps": [_clean({**asdict(s), "passed": s.passed}) for s in report.steps],
    }
    (run_dir / CAPACITY_JSON).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    html = render_capacity_html(report, run_dir_name=run_dir.name, generated_at=generated, endpoint=endpoint)
    path = run_dir / REPORT_HTML
    path.write_text(html, encoding="utf-8")
    return path


def _clean(value: Any) -> Any:
    """JSON has no NaN: missing statistics become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
