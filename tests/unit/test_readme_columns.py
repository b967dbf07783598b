"""README's ``requests.csv`` columns table lists every column of ``bench.collect.record.COLUMNS`` once,
as does the module's docstring table (the source of truth)."""

from __future__ import annotations

import re
from collections import Counter

from support import ROOT

from bench.collect import record
from bench.collect.record import COLUMNS

HEADING = "### `requests.csv` columns"


def _first_table(text: str) -> list[str]:
    lines = text.split(HEADING, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table: list[str] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table[2:]  # without the header and the |---| line


def _names(rows: list[str]) -> list[str]:
    return [name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])]


def test_every_column_is_in_readmes_table_exactly_once() -> None:
    names = _names(_first_table((ROOT / "README.md").read_text(encoding="utf-8")))
    counts = Counter(names)
    assert [c for c in COLUMNS if counts[c] != 1] == [], counts
    assert sorted(set(names) - set(COLUMNS)) == []  # nothing that is not a column
    assert names == list(COLUMNS)  # and in the file's order


def test_the_docstring_table_is_the_columns_in_order() -> None:
    lines = (record.__doc__ or "").splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("====")]
    body = lines[rules[1] + 1 : rules[2]]  # between the rule under the header and the last one
    rows = [line for line in body if not line.startswith(" ")]  # not a continued meaning
    names = [name for row in rows for name in re.split(r"\s{2,}", row, maxsplit=1)[0].split(", ")]
    assert names == list(COLUMNS)
