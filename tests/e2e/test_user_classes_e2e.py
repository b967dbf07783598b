"""A user class runs only when its endpoint is given (issue #13): ``--endpoint`` alone sends no streams."""

from __future__ import annotations

from pathlib import Path

from support import only_run_dir, read_requests, run_locust

from bench.emulator.process import EmulatorProcess


def test_without_a_stream_endpoint_the_streaming_user_is_left_out_in_one_line(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Both classes, no class named: before, LLMStreamUser sent its prompts to the Triton endpoint
    (5,611 of 9,095 requests were ValidationError in the README's own example)."""
    result = run_locust(
        "--headless", "-u", "4", "-r", "4", "-t", "2s", "--endpoint-url", emulator.url, "--endpoint", "demo-triton",
        "--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16", "--report-dir", str(tmp_path / "reports"),
    )  # fmt: skip
    assert result.code == 0, result.stderr[-2000:]
    assert "bench: running TritonUser; not LLMStreamUser (no --stream-endpoint)" in result.stdout
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    assert rows
    assert {(r["request_type"], r["user_class"], r["status"]) for r in rows} == {
        ("invoke", "TritonUser", "ok")
    }
