"""The shared test helpers themselves: polling with a deadline, the requests.csv reader, the browser check."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest
from support import missing_browser, read_requests, require_browser, skip_without_browser, wait_until

from bench.collect import COLUMNS


def test_wait_until_returns_the_first_true_value() -> None:
    calls = itertools.count(1)
    assert wait_until(lambda: max(0, next(calls) - 2), timeout_s=5, interval_s=0.001) == 1


def test_wait_until_names_what_never_happened() -> None:
    with pytest.raises(AssertionError, match=r"^the flag: still not true after 0.05 s$"):
        wait_until(lambda: False, timeout_s=0.05, interval_s=0.01, what="the flag")


def test_read_requests_checks_header_lines_and_cells(tmp_path: Path) -> None:
    header = ",".join(COLUMNS) + "\n"
    row = ",".join(str(i) for i in range(len(COLUMNS))) + "\n"
    path = tmp_path / "requests.csv"
    path.write_text(header + row)
    assert read_requests(tmp_path) == [dict(zip(COLUMNS, row.strip().split(","), strict=True))]
    path.write_text(header + row[:-5])
    with pytest.raises(AssertionError, match="partial line"):
        read_requests(path)
    path.write_text(header + "1,2\n")
    with pytest.raises(AssertionError, match="missing cells"):
        read_requests(path)
    path.write_text("a,b\n")
    with pytest.raises(AssertionError, match="not our header"):
        read_requests(path)


@pytest.fixture
def chromium(tmp_path: Path) -> Path:
    """An executable where the browser would be (only its presence is checked)."""
    path = tmp_path / "chromium"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_browser_test_runs_when_chromium_and_playwright_are_there(
    chromium: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "playwright" else None
    )
    assert missing_browser(chromium) is None
    assert skip_without_browser(chromium, env={}).mark.args == (False,)
    require_browser(chromium, env={"BENCH_REQUIRE_BROWSER": "1"})  # neither skips nor fails


def test_without_chromium_the_browser_test_skips_with_one_line_saying_how_to_install_it(
    tmp_path: Path,
) -> None:
    absent = tmp_path / "no-chromium"
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_browser(absent, env={})
    reason = str(skipped.value)
    assert reason == f"no Debian chromium at {absent}: install it with `apt-get install chromium`"
    assert "\n" not in reason


def test_the_browser_tests_mark_skips_it_where_it_stands_unless_it_is_required(tmp_path: Path) -> None:
    absent = tmp_path / "no-chromium"
    mark = skip_without_browser(absent, env={}).mark
    assert mark.name == "skipif"
    assert mark.args == (True,)
    assert (
        mark.kwargs["reason"] == f"no Debian chromium at {absent}: install it with `apt-get install chromium`"
    )
    assert skip_without_browser(absent, env={"BENCH_REQUIRE_BROWSER": "1"}).mark.args == (False,)


def test_without_chromium_the_browser_test_fails_when_it_is_required(tmp_path: Path) -> None:
    absent = tmp_path / "no-chromium"
    with pytest.raises(pytest.fail.Exception) as failed:
        require_browser(absent, env={"BENCH_REQUIRE_BROWSER": "1"})
    assert str(failed.value) == (
        f"no Debian chromium at {absent}: install it with `apt-get install chromium`"
        " (BENCH_REQUIRE_BROWSER=1: this test must run)"
    )


def test_a_chromium_that_is_not_executable_counts_as_missing(chromium: Path) -> None:
    chromium.chmod(0o644)
    assert "apt-get install chromium" in (missing_browser(chromium) or "")


def test_without_playwright_the_browser_test_says_how_to_install_it(
    chromium: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_browser(chromium, env={})
    assert str(skipped.value) == "no playwright Python package: install it with `pip install -e '.[dev]'`"
