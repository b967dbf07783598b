"""Gate verdicts as files CI systems read: ``gates.json``, ``junit.xml``, ``summary.md``, and a console table.

``summary.md`` is rendered by GitHub (job summaries, pull-request comments), so every text that comes
from the records or the command line (request names, variants, gate expressions, reasons, the run
directory) is written as literal text: ``markdown_text`` turns HTML's ``& < >`` into entities and
backslash-escapes Markdown's punctuation; ``markdown_code`` makes a code span that no backtick in the
text can end. Neither lets a ``|`` split a table cell or a line break end a table row.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

from bench.analysis.gates import GateResult

GATES_JSON = "gates.json"
JUNIT_XML = "junit.xml"
SUMMARY_MD = "summary.md"


def write_gate_files(
    out_dir: Path,
    results: Sequence[GateResult],
    summary: pd.DataFrame,
    *,
    step_summary: Path | None = None,
    run_dir: Path | None = None,
) -> list[Path]:
    """Write the three files into ``out_dir``; append ``summary.md`` to ``step_summary``
    ($GITHUB_STEP_SUMMARY) when given.

    ``run_dir``: the run the gates were evaluated on, when that is not ``out_dir`` (a what-if of
    ``bench gate --gate``); summary.md then says so.
    """
    passed = all(r.passed for r in results)
    document = {
        "passed": passed,
        "gates": [
            {
                "expression": r.gate.expression,
                "passed": r.passed,
                "observed": r.observed,
                "threshold": r.gate.threshold,
                "operator": r.gate.op,
                "unit": r.gate.unit,
                "metric": r.gate.metric,
                "stat": r.gate.stat,
                "scope": {"type": r.gate.request_type, "name": r.gate.name, "variant": r.gate.variant},
                "reason": r.reason,
            }
            for r in results
        ],
    }
    paths = [out_dir / GATES_JSON, out_dir / JUNIT_XML, out_dir / SUMMARY_MD]
    paths[0].write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(junit_xml(results), encoding="utf-8")
    markdown = summary_markdown(results, summary, run_dir or out_dir, whatif=run_dir is not None)
    paths[2].write_text(markdown, encoding="utf-8")
    if step_summary is not None:
        with step_summary.open("a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    return paths


def junit_xml(results: Sequence[GateResult]) -> str:
    """One testsuite, one testcase per gate; a failure carries observed vs threshold."""
    failures = sum(not r.passed for r in results)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="bench" tests="{len(results)}" failures="{failures}">',
        f'  <testsuite name="bench.gates" tests="{len(results)}" failures="{failures}" errors="0" skipped="0">',
    ]
    for result in results:
        lines.append(
            f'    <testcase classname="bench.gates" name={quoteattr(result.gate.expression)} time="0">'
        )
        if result.passed:
            lines.append(f"      <system-out>{escape(result.reason)}</system-out>")
        else:
            lines.append(
                f'      <failure message={quoteattr(result.reason)} type="GateFailed">{escape(result.reason)}</failure>'
            )
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)


def summary_markdown(
    results: Sequence[GateResult], summary: pd.DataFrame, run_dir: Path, *, whatif: bool = False
) -> str:
    """The gates and the summary as GitHub Markdown (``whatif``: gates given after the run)."""
    passed = all(r.passed for r in results)
    headline = (
        "✅ all gates passed"
        if passed
        else f"❌ {sum(not r.passed for r in results)} of {len(results)} gates failed"
    )
    lines = [
        f"## Performance gates{' (what-if)' if whatif else ''}: {headline}",
        "",
        "| | gate | observed | threshold |",
        "|---|---|---|---|",
    ]
    for r in results:
        mark = "✅" if r.passed else "❌"
        observed = r.observed_text() if r.observed is not None else f"— ({markdown_text(r.reason)})"
        # the threshold is ours (an operator and a number): no text from the records or the command line
        lines.append(f"| {mark} | {markdown_code(r.gate.expression)} | {observed} | {r.threshold_text()} |")
    lines += [
        "",
        "| type | name | variant | count | errors | rps | p50 ms | p95 ms | p99 ms | ttfp p95 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary.itertuples(index=False):
        cells = [
            row.request_type,
            row.name,
            row.variant or "",
            row.count,
            row.errors,
            format_number(row.rps, 1),
            format_number(row.latency_p50_ms),
            format_number(row.latency_p95_ms),
            format_number(row.latency_p99_ms),
            format_number(row.ttfp_p95_ms),
        ]
        lines.append("| " + " | ".join(markdown_text(str(c)) for c in cells) + " |")
    where = "Gates evaluated after the run on run directory" if whatif else "Run directory"
    lines += ["", f"{where}: {markdown_code(str(run_dir))}", ""]
    return "\n".join(lines)


def format_gates(results: Sequence[GateResult]) -> str:
    """The console table: one line per gate with a pass/fail mark."""
    width = max([len(r.gate.expression) for r in results] + [4])
    lines = [f"{'gate':<{width}}  {'observed':>14}  {'threshold':>16}  result"]
    for r in results:
        mark = "✓ pass" if r.passed else "✗ FAIL"
        lines.append(
            f"{r.gate.expression:<{width}}  {r.observed_text():>14}  {r.threshold_text():>16}  {mark}"
        )
        if not r.passed and r.observed is None:
            lines.append(f"{'':<{width}}  {r.reason}")
    return "\n".join(lines)


# What CommonMark lets a backslash escape and that starts markup: emphasis, code, links and images,
# headings, lists, strike-through, tables (``|``); ``&``, ``<`` and ``>`` become HTML entities instead.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown on one line: no HTML, no markup, no table cell split."""
    one_line = " ".join(text.splitlines())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(one_line, quote=False))


def markdown_code(text: str) -> str:
    """``text`` as a Markdown code span on one line (table-safe): literal, whatever backticks it holds."""
    one_line = " ".join(text.splitlines()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", one_line)), default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def format_number(value: object, digits: int = 2) -> str:
    """A table cell: the number with ``digits`` decimals, a dash when it is missing (None or NaN)."""
    if not isinstance(value, int | float) or math.isnan(float(value)):
        return "-"
    return f"{float(value):.{digits}f}"
