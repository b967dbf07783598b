"""Drive Locust's web UI in the system chromium for an open-loop run started from the start form.

Run as its own process by ``tests/e2e/test_inference_tab_e2e.py`` (as ``tests/inference_tab_browser.py``,
whose browser set-up and table reading it shares):

    python tests/e2e/openloop_tab_browser.py URL RATE USERS SECONDS OUT_DIR [CHROMIUM]

Opens the start form's Custom parameters, types RATE into Arrival Rate, picks ``constant`` in the
Arrival drop-down, starts USERS users, opens the Inference tab and reads its ``open loop`` row once the
run has sent for SECONDS (screenshot ``inference-tab-open-loop.png``), then the Inference run tab's
``open loop`` rows, and stops the run from the UI. Prints one JSON object with what it saw (the form's
fields, the rows as header -> cell text); the test makes the assertions.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the other driver's helpers

from inference_tab_browser import CHROMIUM, FLAGS, number, table


def open_loop_row(page: Page, seconds: float, timeout_s: float) -> dict[str, Any]:
    """The Inference tab's ``open loop`` row once the run has sent for ``seconds`` (by its Sent/s cells)."""
    started = time.monotonic()
    deadline = started + timeout_s
    headers: list[str] = []
    rows: list[list[str]] = []
    first_seen: float | None = None
    while time.monotonic() < deadline:
        headers, rows = table(page)
        for row in rows:
            cells = dict(zip(headers, row, strict=False))
            if cells.get("Type") == "open loop" and number(cells.get("Sent/s (run)", "")) > 0:
                first_seen = first_seen or time.monotonic()
                if time.monotonic() - first_seen >= seconds:
                    return {"found": True, "headers": headers, "row": cells, "rows": rows}
        time.sleep(0.5)
    return {"found": False, "headers": headers, "rows": rows}


def main(
    url: str, rate: str, users: str, seconds: float, out_dir: Path, chromium: str = CHROMIUM
) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=FLAGS,
            viewport={"width": 2200, "height": 900},
        )
        try:
            page = context.new_page()
            page.goto(url, wait_until="networkidle")
            page.get_by_text("Custom parameters").click()
            arrival_rate = page.locator("input[name=arrivalRate]")
            arrival = page.locator("select[name=arrival]")
            seen["form"] = {
                "text": page.locator("form").first.inner_text(),
                "arrival_options": arrival.locator("option").all_inner_texts(),
                "arrival_default": arrival.input_value(),
            }
            arrival_rate.fill(rate)
            arrival.select_option("constant")
            page.locator("input[name=userCount]").fill(users)
            page.locator("input[name=spawnRate]").fill(users)
            page.get_by_role("button", name="Start").click()
            page.get_by_role("tab", name="Inference", exact=True).click(timeout=15000)
            seen["open_loop"] = open_loop_row(page, seconds, timeout_s=seconds + 30)
            screenshot = out_dir / "inference-tab-open-loop.png"
            page.screenshot(path=str(screenshot), full_page=True)
            seen["screenshot"] = str(screenshot)
            page.get_by_role("tab", name="Inference run", exact=True).click()
            time.sleep(2.5)  # the next poll fills the tab
            headers, rows = table(page)
            seen["run_rows"] = [dict(zip(headers, row, strict=False)) for row in rows]
            page.get_by_role("button", name="Stop").click()
        finally:
            context.close()
    return seen


if __name__ == "__main__":
    url, rate, users, seconds, out_dir = sys.argv[1:6]
    print(json.dumps(main(url, rate, users, float(seconds), Path(out_dir), *sys.argv[6:7])))
