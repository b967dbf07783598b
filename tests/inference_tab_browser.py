"""Drive Locust's web UI in the system chromium (playwright, never its own browsers) for the Inference tab.

Run as its own process by ``tests/e2e/test_inference_tab_e2e.py`` (playwright's sync API runs an
asyncio loop, which gevent's monkey-patching in the pytest process would get in the way of):

    python tests/inference_tab_browser.py URL STREAM_NAME OUT_DIR [CHROMIUM]

First submits the start form with a bad Endpoint (custom parameter): the form must show the
harness's one-line error and start nothing (screenshot ``start-form-refused.png``). Then clears it,
starts a run from the form (4 users), opens the Inference tab, waits until the row of STREAM_NAME
shows a non-zero TTFP p50, takes a screenshot, stops the run from the UI and reads the Inference run
tab until the run directory's files are listed. Prints one JSON object with what it saw; the test
makes the assertions. Exit code 0 unless the browser itself failed. CHROMIUM is the browser binary
(default Debian's ``/usr/bin/chromium``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def table(page: Page) -> tuple[list[str], list[list[str]]]:
    """The visible tab's table: header texts and body rows' cell texts."""
    headers = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    rows = [
        [c.strip() for c in row.locator("td").all_inner_texts()]
        for row in page.locator("table tbody tr").all()
    ]
    return headers, rows


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def wait_for_ttfp(page: Page, stream_name: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    headers: list[str] = []
    rows: list[list[str]] = []
    while time.monotonic() < deadline:
        headers, rows = table(page)
        if "Name" in headers and "TTFP p50 ms" in headers:
            for row in rows:
                cells = dict(zip(headers, row, strict=False))
                if cells.get("Name") == stream_name and number(cells.get("TTFP p50 ms", "")) > 0:
                    return {"found": True, "headers": headers, "row": cells, "rows": rows}
        time.sleep(0.5)
    return {"found": False, "headers": headers, "rows": rows}


def wait_for_files(page: Page, timeout_s: float) -> list[list[str]]:
    deadline = time.monotonic() + timeout_s
    rows: list[list[str]] = []
    while time.monotonic() < deadline:
        _, rows = table(page)
        if any(row and row[0] == "file" for row in rows):
            return rows
        time.sleep(0.5)
    return rows


BAD_ENDPOINT = "bad name!"


def refuse_bad_endpoint(page: Page, url: str, out_dir: Path) -> dict[str, Any]:
    """Start with Endpoint ``bad name!``: what ``/swarm`` answered, the error shown, the runner's state."""
    page.get_by_text("Custom parameters").click()
    endpoint = page.locator("input[name=endpoint]")
    endpoint.fill(BAD_ENDPOINT)
    with page.expect_response(lambda response: response.url.endswith("/swarm")) as answer:
        page.get_by_role("button", name="Start").click()
    alert = page.get_by_role("alert").filter(has_text="--endpoint")
    alert.wait_for(timeout=5000)
    screenshot = out_dir / "start-form-refused.png"
    page.screenshot(path=str(screenshot), full_page=True)
    seen = {
        "status": answer.value.status,
        "answer": answer.value.json(),
        "alert": alert.inner_text().strip(),
        "start_button": page.get_by_role("button", name="Start").is_visible(),
        "state": page.request.get(f"{url}stats/requests").json()["state"],
        "screenshot": str(screenshot),
    }
    endpoint.fill("")  # back to the built-in emulator's endpoint
    return seen


def main(url: str, stream_name: str, out_dir: Path, chromium: str = CHROMIUM) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=FLAGS,
            viewport={"width": 1800, "height": 900},
        )
        try:
            page = context.new_page()
            page.goto(url, wait_until="networkidle")
            seen["refused"] = refuse_bad_endpoint(page, url, out_dir)
            page.locator("input[name=userCount]").fill("4")
            page.locator("input[name=spawnRate]").fill("4")
            page.get_by_role("button", name="Start").click()
            page.get_by_role("tab", name="Inference", exact=True).click(timeout=15000)
            seen["tab_url"] = page.url
            seen["ttfp"] = wait_for_ttfp(page, stream_name, timeout_s=25)
            screenshot = out_dir / "inference-tab.png"
            page.screenshot(path=str(screenshot), full_page=True)
            seen["screenshot"] = str(screenshot)
            page.get_by_role("button", name="Stop").click()
            page.get_by_role("tab", name="Inference run", exact=True).click()
            rows = wait_for_files(page, timeout_s=6)
            seen["reloaded"] = False
            if not any(row and row[0] == "file" for row in rows):  # the UI stops polling when the run stops
                page.reload(wait_until="networkidle")
                page.get_by_role("tab", name="Inference run", exact=True).click()
                rows = wait_for_files(page, timeout_s=6)
                seen["reloaded"] = True
            seen["run_rows"] = rows
            run_screenshot = out_dir / "inference-run-tab.png"
            page.screenshot(path=str(run_screenshot), full_page=True)
            seen["run_screenshot"] = str(run_screenshot)
        finally:
            context.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), *sys.argv[4:5])))
