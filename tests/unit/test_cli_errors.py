"""Issue #13, "Nothing lost, nothing silent": bad input is one line and exit code 2, never a traceback;
what-if gates leave the run's files alone; names reach Markdown as text; nothing is dropped unsaid.

In-process (``bench.cli.main``), no load and no emulator; the processes are in
tests/e2e/test_cli_offline_e2e.py.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.compare import compare_runs
from bench.cli import main
from bench.collect import COLUMNS
from bench.emulator.__main__ import check_host
from bench.emulator.config import load_config
from bench.errors import ConfigError
from bench.payload.files import load_payload_file
from bench.report.comparison import format_comparison, write_comparison
from bench.report.gatefiles import markdown_code, markdown_text

SUBCOMMANDS = ("serve", "invoke", "report", "gate", "compare", "selfbench")
HOSTILE = "<img src=x onerror=alert(1)>|a|b"


@pytest.fixture(autouse=True)
def _no_bench_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench invoke`` takes BENCH_* defaults and ``bench gate`` writes to GITHUB_STEP_SUMMARY."""
    import os

    for name in [n for n in os.environ if n.startswith("BENCH_")] + ["GITHUB_STEP_SUMMARY"]:
        monkeypatch.delenv(name, raising=False)


def _rows(
    count: int, *, name: str = "ep", latency_ms: float = 12.5, start: float = 1000.0
) -> list[list[str]]:
    rows = []
    for i in range(count):
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            timestamp_s=f"{start + i * 0.01:.6f}",
            intended_start_s=f"{start + i * 0.01:.6f}",
            worker="local",
            user_class="U",
            request_type="invoke",
            name=name,
            endpoint=name,
            variant="AllTraffic",
            status="ok",
            http_status="200",
            latency_ms=f"{latency_ms:.3f}",
            users="2",
        )
        rows.append([row[c] for c in COLUMNS])
    return rows


def _run(run_dir: Path, *groups: list[list[str]], gates: tuple[str, ...] = ()) -> Path:
    """A finished run directory: requests.csv (our header, then the rows) and a run.json."""
    run_dir.mkdir(parents=True)
    with (run_dir / "requests.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for rows in groups:
            writer.writerows(rows)
    config = {"warmup_s": 0.0, "gates": list(gates), "endpoint": {"name": "ep"}}
    (run_dir / "run.json").write_text(json.dumps({"config": config}))
    return run_dir


def _one_error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"bench {command}: error: "), err
    return lines[0]


# 5: every subcommand's --help


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_help_exits_0_with_usage(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: bench {command}")
    if command == "invoke":  # the shared options' help, "%" and all
        assert "20% of the step duration" in " ".join(out.split())
        assert "over 90% of a core" in " ".join(out.split())


# 12: bench report / bench gate on broken requests.csv


def test_report_on_an_empty_requests_csv_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "requests.csv").write_bytes(b"")
    assert main(["report", str(run)]) == 2
    line = _one_error_line(capsys, "report")
    assert f"{run / 'requests.csv'} is empty (0 bytes, not even its header line)" in line
    assert not (run / "summary.csv").exists()


def test_report_on_garbage_bytes_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "requests.csv").write_bytes(bytes(range(256)) * 4)
    assert main(["gate", str(run), "--gate", "p95(latency)<1s"]) == 2
    line = _one_error_line(capsys, "gate")
    assert f"{run / 'requests.csv'} is not a requests.csv of this harness (no header line)" in line


def test_report_on_a_header_with_missing_columns_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "requests.csv").write_text(",".join(COLUMNS[:5]) + "\n1,2,3,4,5\n")
    assert main(["report", str(run)]) == 2
    line = _one_error_line(capsys, "report")
    assert "requests.csv lacks columns ['name'," in line


def test_report_on_garbage_rows_after_the_header_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "run", _rows(3))
    with (run / "requests.csv").open("ab") as handle:
        handle.write(b'\x00\xff,"broken\n1,2\n')
    assert main(["report", str(run)]) == 2
    line = _one_error_line(capsys, "report")
    assert "requests.csv: not a readable requests.csv (CSV parse error" in line
    assert line.endswith("; give the directory of a finished run")


def test_report_on_a_header_only_file_is_an_empty_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "run")
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"bench: {run / 'requests.csv'} holds no requests (only its header): the run sent none" in out
    assert "from 0 requests" in out
    assert (run / "summary.csv").read_text().count("\n") == 2  # the header and an ALL row of 0
    # a gate on an empty run fails and says why (it never passes silently)
    assert main(["gate", str(run), "--gate", "p95(latency)<1s"]) == 3
    assert "no latency values in the run" in capsys.readouterr().out


def test_report_on_a_truncated_last_line_uses_the_rows_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "run", _rows(40))
    data = (run / "requests.csv").read_bytes()
    (run / "requests.csv").write_bytes(data[:-25])  # the last row cut mid-write
    assert main(["report", str(run)]) == 0
    assert "from 39 requests" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "content"), [("run.json", b"{bad"), ("error_samples.json", b"\xff\xfe")])
def test_report_on_an_unreadable_run_file_names_it(
    name: str, content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "run", _rows(3))
    (run / name).write_bytes(content)
    assert main(["report", str(run)]) == 2
    line = _one_error_line(capsys, "report")
    assert line.startswith(f"bench report: error: {run / name}: unreadable (")
    assert line.endswith("); fix or remove the file")


# 13: .npz members that are not plain arrays


def test_npz_with_a_pickled_object_array_names_the_member(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, INPUT0=np.ones(4, np.float32), INPUT1=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ConfigError) as caught:
        load_payload_file(path, [])
    message = str(caught.value)
    assert message.startswith(f"--payload {path}: member 'INPUT1' is an object array, stored as a pickle")
    assert "\n" not in message


def test_npz_with_a_0d_array_names_it(tmp_path: Path) -> None:
    path = tmp_path / "scalar.npz"
    np.savez(path, INPUT0=np.array(3.5, dtype=np.float32))
    with pytest.raises(ConfigError, match=rf"^--payload {path}: array 'INPUT0' is 0-d \(a scalar\)"):
        load_payload_file(path, [])


@pytest.mark.parametrize(
    "array",
    [np.array([1 + 2j]), np.array(["2020-01-01"], dtype="datetime64[D]"), np.zeros(2, dtype="f4,i4")],
    ids=["complex", "datetime", "structured"],
)
def test_npz_with_a_dtype_no_triton_datatype_holds_names_it(array: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, INPUT0=array)
    with pytest.raises(ConfigError, match=rf"^--payload {path}: array 'INPUT0' has numpy dtype .*, which no"):
        load_payload_file(path, [])


def test_npz_with_a_member_np_savez_did_not_write_names_it(tmp_path: Path) -> None:
    path = tmp_path / "mixed.npz"
    np.savez(path, INPUT0=np.ones(4, np.float32))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "not an array")
    with pytest.raises(ConfigError, match=rf"^--payload {path}: member 'notes.txt' is not a numpy array"):
        load_payload_file(path, [])


def test_an_npy_file_named_npz_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "single.npz"
    with path.open("wb") as handle:
        np.save(handle, np.ones(3))
    with pytest.raises(ConfigError, match=r"not a readable \.npz archive \(not a zip of NAME\.npy arrays\)"):
        load_payload_file(path, [])


def test_invoke_with_a_pickled_npz_is_one_line_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, INPUT0=np.array(["a", "b"], dtype=object))
    assert main(["invoke", "--payload", str(path)]) == 2
    line = _one_error_line(capsys, "invoke")
    assert f"--payload {path}: member 'INPUT0' is an object array" in line


# 19: what-if gates go to RUN/whatif/


def test_gate_what_if_leaves_the_run_files_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path / "run", _rows(30), gates=("p95(latency)<250ms",))
    assert main(["gate", str(run)]) == 0  # the run's own gates: the run's own files, as always
    own = {
        name: (run / name).read_bytes() for name in ("gates.json", "junit.xml", "summary.md", "summary.csv")
    }
    assert json.loads(own["gates.json"])["passed"] is True
    capsys.readouterr()

    assert main(["gate", str(run), "--gate", "p95(latency)<1ms"]) == 3
    out = capsys.readouterr().out
    whatif = run / "whatif"
    assert (
        f"bench: what-if: wrote summary.csv, gates.json, junit.xml, summary.md in {whatif} from 30 requests; "
        "the run's own files are unchanged (--write replaces them)"
    ) in out
    assert {name: (run / name).read_bytes() for name in own} == own
    verdict = json.loads((whatif / "gates.json").read_text())
    assert (verdict["passed"], verdict["gates"][0]["expression"]) == (False, "p95(latency)<1ms")
    assert "<failure" in (whatif / "junit.xml").read_text()
    markdown = (whatif / "summary.md").read_text()
    assert markdown.startswith("## Performance gates (what-if): ❌ 1 of 1 gates failed")
    assert f"Gates evaluated after the run on run directory: `{run}`" in markdown
    assert (whatif / "summary.csv").read_bytes() == own["summary.csv"]  # the same window

    assert main(["gate", str(run), "--warmup", "0.2s"]) == 0  # another warm-up is a what-if too
    assert {name: (run / name).read_bytes() for name in own} == own
    assert "count" in (whatif / "summary.csv").read_text()

    assert main(["gate", str(run), "--gate", "p95(latency)<1ms", "--write"]) == 3  # asked for
    assert json.loads((run / "gates.json").read_text())["passed"] is False


# 20: requests in one run only are listed


def test_compare_lists_requests_present_in_one_run_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _run(tmp_path / "base", _rows(30), _rows(30, name="gone"))
    cand = _run(tmp_path / "cand", _rows(30), _rows(30, name="new"), _rows(25, name="new2"))
    assert main(["compare", str(base), str(cand)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "only in baseline: invoke gone (not compared)" in out
    assert "only in candidate: invoke new, invoke new2 (not compared)" in out
    markdown = (cand / "compare.md").read_text()
    assert "- only in baseline: `invoke gone`" in markdown
    assert "- only in candidate: `invoke new`, `invoke new2`" in markdown


def test_compare_says_nothing_extra_when_every_request_matched(tmp_path: Path) -> None:
    comparison = compare_runs(_run(tmp_path / "b", _rows(30)), _run(tmp_path / "c", _rows(30)))
    assert "only in" not in format_comparison(comparison)
    _, md_path = write_comparison(comparison, tmp_path)
    assert "only in" not in md_path.read_text()


# 22: messages that say what happened


def test_a_binary_emulator_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: not a TOML file (byte 0 is not UTF-8 text); give the emulator's TOML configuration"
    )


def test_a_host_that_is_not_this_machines_is_about_the_host() -> None:
    with pytest.raises(ConfigError) as caught:
        check_host("192.0.2.1")  # TEST-NET-1: documentation only, never a local address
    message = str(caught.value)
    assert message.startswith("--host 192.0.2.1: 192.0.2.1 is not an address of this machine (")
    assert "--port" not in message
    check_host("127.0.0.1")  # loopback is fine (nothing is left listening)


def test_invoke_refuses_a_stream_and_a_tensor_request_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "--stream-endpoint", "demo-llm", "--input", "INPUT0:FP32:1,16"]) == 2
    line = _one_error_line(capsys, "invoke")
    assert line == (
        "bench invoke: error: --input describes a tensor request and --stream-endpoint a stream; bench invoke "
        "sends one request: give the options of one (or run both users with locust)"
    )


# 23: Markdown and HTML in names


def test_markdown_text_and_code_are_literal() -> None:
    assert markdown_text(HOSTILE) == r"&lt;img src=x onerror=alert\(1\)&gt;\|a\|b"
    assert markdown_text("[x](javascript:y) *b* `c`\nnext") == r"\[x\]\(javascript:y\) \*b\* \`c\` next"
    assert markdown_code("name:a`b|c") == r"``name:a`b\|c``"
    assert markdown_code("`x") == "`` `x ``"


def test_summary_md_escapes_html_and_pipes_in_names(tmp_path: Path) -> None:
    rows = _rows(5, name=HOSTILE)
    variant = COLUMNS.index("variant")
    for cells in rows:
        cells[variant] = "v|<script>alert(2)</script>"
    run = _run(tmp_path / "<b>run", rows, gates=("p95(latency)<1ms", "name:a`<i>|b count>=1"))
    assert main(["gate", str(run)]) == 3
    markdown = (run / "summary.md").read_text()
    assert "<img" not in markdown
    assert "<script" not in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| invoke "))
    assert row.startswith(r"| invoke | &lt;img src=x onerror=alert\(1\)&gt;\|a\|b | v\|&lt;script&gt;")
    assert row.replace("\\|", "").count("|") == 11  # 10 cells: the name and the variant stay one each
    # a code span that the backtick in the expression does not end, a pipe that does not split the cell
    assert r"| ❌ | ``name:a`<i>\|b count>=1`` | 0 | >= 1 |" in markdown
    assert f"Run directory: `{run}`" in markdown  # a code span: shown, not rendered


def test_compare_md_escapes_html_in_names(tmp_path: Path) -> None:
    comparison = compare_runs(
        _run(tmp_path / "b", _rows(30, name=HOSTILE), _rows(30, name="<b>gone</b>")),
        _run(tmp_path / "c", _rows(30, name=HOSTILE)),
    )
    _, md_path = write_comparison(comparison, tmp_path)
    markdown = md_path.read_text()
    assert "<img" not in markdown
    assert r"| invoke &lt;img src=x onerror=alert\(1\)&gt;\|a\|b | latency p50 |" in markdown
    assert "- only in baseline: `invoke <b>gone</b>`" in markdown  # a code span: shown, not rendered
