"""The command line as course scripts use it: names, flags, stdout discipline and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import cli
from grader.pipeline import Batch
from grader.sandbox.process import marked_pids

from .conftest import REPO

BOB = REPO / "submissions" / "conv1x1" / "bob_einsum.py"


def test_list_shows_conv1x1(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list"]) == 0
    assert "conv1x1" in capsys.readouterr().out


def test_unknown_assignment_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["check", str(BOB), "--assignment", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no assignment 'nope'" in err and "conv1x1" in err


def test_missing_submission_path_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["grade", str(tmp_path / "absent"), "--assignment", "conv1x1", "--out", str(tmp_path)]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_bad_flag_value_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["grade", str(BOB), "--assignment", "conv1x1", "--profile", "bogus"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_check_json_prints_only_the_results_document(tmp_path: Path) -> None:
    """The real console script in a fresh process: stdout is one JSON document and nothing else."""
    grader_bin = Path(sys.executable).parent / "grader"
    proc = subprocess.run([str(grader_bin), "check", str(BOB), "--assignment", "conv1x1", "--json", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["student"] == "bob_einsum" and doc["profile"] == "check"
    assert doc["score"] == doc["max_score"] > 0
    assert (tmp_path / "conv1x1" / "check" / "bob_einsum" / "report.html").is_file()
    assert (tmp_path / "conv1x1" / "check" / "index.html").is_file()


@pytest.mark.slow
def test_a_grader_fault_is_recorded_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """One submission the grader fails on is 'ungraded'; the others are still graded; exit status 1."""
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "bob.py").write_text(BOB.read_text())
    (folder / "zed.py").write_text(BOB.read_text())
    original = Batch._grade_one

    def flaky(self, submission, index, reference, out_dir):  # noqa: ANN001, ANN202
        if submission.student == "zed":
            raise RuntimeError("disk on fire")
        return original(self, submission, index, reference, out_dir)

    monkeypatch.setattr(Batch, "_grade_one", flaky)
    code = cli.main(["grade", str(folder), "--assignment", "conv1x1", "--profile", "check", "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 1
    assert "NOT GRADED" in out and "Report:" in out
    summary = json.loads((tmp_path / "r" / "conv1x1" / "check" / "summary.json").read_text())
    assert {s["student"]: s["status"] for s in summary} == {"bob": "graded", "zed": "ungraded"}
    zed = json.loads((tmp_path / "r" / "conv1x1" / "check" / "zed" / "result.json").read_text())
    assert "disk on fire" in zed["problems"][0]


@pytest.mark.slow
def test_parallel_jobs_split_the_cores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("one", "two"):
        (folder / f"{name}.py").write_text(BOB.read_text())
    code = cli.main(["grade", str(folder), "--assignment", "conv1x1", "--profile", "check", "--jobs", "2",
                     "--out", str(tmp_path / "r"), "--json"])
    docs = json.loads(capsys.readouterr().out)
    assert code == 0 and [d["student"] for d in docs] == ["one", "two"]
    assert all(d["score"] == d["max_score"] for d in docs)
    assert all(d["isolation"]["threads"] == max(1, (os.cpu_count() or 1) // 2) for d in docs)


@pytest.mark.slow
def test_killing_the_grader_kills_its_runs(tmp_path: Path) -> None:
    """A grader that is SIGKILLed mid-run leaves no process of the run behind (parent-death signal)."""
    import signal
    import time

    hang = REPO / "tests" / "fixtures" / "submissions" / "conv1x1" / "hang_ignore_signals.py"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "check", str(hang), "--assignment", "conv1x1",
                             "--out", str(tmp_path)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not marked_pids():
        time.sleep(0.5)
    assert marked_pids(), "the sandboxed run never started"
    time.sleep(3)  # let the reference finish and the hanging submission start
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and marked_pids():
        time.sleep(0.2)
    assert marked_pids() == []

