"""The adversarial suite: hostile submissions (tests/fixtures/adversarial/) graded in one batch with good ones.

Every attack must end in a graded result with a specific status or limit named, earn no points it did
not earn, leave no process behind, and cost the good submissions of the same batch nothing.
Runs under whatever backend ``auto`` picks here (bwrap when installed, as in CI); the assertions that
only bwrap can keep (reads, writes) say so when the host fell back to the process backend.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from grader.pipeline import Batch
from grader.results import SubmissionResult, read_result
from grader.sandbox.supervise import marked_pids
from grader.spec import load_spec
from grader.submissions import discover

from .conftest import FIXTURES, REPO, write_spec_variant

pytestmark = pytest.mark.slow

ADVERSARIAL = FIXTURES / "adversarial"
OLDER = FIXTURES / "submissions" / "conv1x1"
GOOD = [REPO / "submissions" / "conv1x1" / "bob_einsum.py", REPO / "submissions" / "conv1x1" / "alice_notebook.ipynb"]
LIMITS = {"startup_s": 60, "cell_s": 10, "submission_s": 45, "memory_mb": 1536, "max_processes": 128,
          "disk_mb": 256, "file_size_mb": 64, "output_kb": 64}
PUBLIC = ["pointwise_shapes", "pointwise_param_count", "pointwise_forward", "pointwise_gradients",
          "pointwise_gradcheck", "model_logits", "model_uses_reduction", "model_gradient_flow", "model_learns",
          "shape_arithmetic"]


class Listener:
    """A TCP server on the host's 127.0.0.1 that records whether anybody connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.accepted += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=5)
        self.sock.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("adversarial")
    assignments = root / "assignments"
    write_spec_variant(assignments, "conv1x1", LIMITS)
    subs = root / "subs"
    shutil.copytree(ADVERSARIAL, subs, ignore=shutil.ignore_patterns("README.md", "__pycache__"))
    for name in ("sys_exit.py", "os_exit.py"):
        shutil.copy2(OLDER / name, subs / name)
    out = root / "reports"
    sentinels = root / "sentinels"  # throw-away copies the writer aims at, so a failure damages nothing real
    sentinels.mkdir()
    shutil.copy2(REPO / "reference_solutions" / "conv1x1.py", sentinels / "conv1x1.py")
    (sentinels / "result.json").write_text('{"score": 1}')
    data_root = Path(__import__("os").environ["DLGRADER_DATA"])
    secrets = {
        "reference": str(REPO / "reference_solutions" / "conv1x1.py"),
        "other_submission": str(GOOD[0]),
        "hidden_labels": str(data_root / "cifar-10-batches-py" / "test_batch"),
        "spec_hidden_checks": str(REPO / "assignments" / "conv1x1" / "spec.yaml"),
        "grader_source": str(REPO / "grader" / "scoring.py"),
        "results_folder": str(out),
        "calibration_cache": str(Path(__import__("os").environ["DLGRADER_CACHE"])),
    }
    (subs / "reader" / "targets.json").write_text(json.dumps(
        {**secrets, "basenames": ["conv1x1.py", "bob_einsum.py", "test_batch", "spec.yaml", "scoring.py", "result.json"]}))
    write_targets = {"reference_copy": str(sentinels / "conv1x1.py"), "result_copy": str(sentinels / "result.json"),
                     "results_folder": str(out), "grader_source_dir": str(REPO / "grader"), "data_root": str(data_root)}
    (subs / "writer" / "targets.json").write_text(json.dumps(write_targets))
    listener = Listener()
    (subs / "sockets" / "targets.json").write_text(json.dumps({"port": listener.port}))
    before = {name: _digest(Path(p)) for name, p in write_targets.items() if Path(p).is_file()}
    site_before = sorted(p.name for p in Path(sys.prefix).rglob("*.pth"))
    submissions = discover([*GOOD, subs])
    loaded = load_spec(assignments / "conv1x1" / "spec.yaml", root=REPO)
    try:
        with Batch(loaded, "check", workers=2) as batch:
            results = batch.grade(submissions, out)
            backend = batch.sandbox.name
    finally:
        listener.close()
    return {"results": {r.student: r for r in results}, "out": out, "backend": backend, "listener": listener,
            "write_targets": write_targets, "before": before, "site_before": site_before, "count": len(submissions)}


def _result(graded: dict[str, Any], name: str) -> SubmissionResult:
    return graded["results"][name]


def _stdout(result: SubmissionResult) -> list[str]:
    return result.logs.get("stdout", "").splitlines()


def _problems(result: SubmissionResult) -> str:
    return " ".join(result.problems)


def test_every_submission_gets_a_graded_result_on_disk(graded: dict[str, Any]) -> None:
    assert len(graded["results"]) == graded["count"]
    for name, result in graded["results"].items():
        assert result.status == "graded", (name, result.problems)
        on_disk = read_result(graded["out"] / "conv1x1" / "check" / name / "result.json")
        assert on_disk.score == result.score and on_disk.student == name


@pytest.mark.parametrize("name", ["bob_einsum", "alice_notebook"])
def test_good_submissions_in_the_same_batch_get_full_marks(graded: dict[str, Any], name: str) -> None:
    result = _result(graded, name)
    assert {c.id: c.status for c in result.checks if c.id in PUBLIC} == dict.fromkeys(PUBLIC, "pass"), result.problems
    assert result.score == result.max_score - sum(c.max_points for c in result.checks if c.status == "skipped")
    assert result.isolation["label"] == ("bwrap" if graded["backend"] == "bwrap" else "process, weaker")


# name -> (a phrase its problems must contain, the most points it may have)
LIMITED = {
    "loop_cell": ("per-cell time limit", 0),
    "fork_bomb": ("process limit", 0),
    "thread_bomb": ("process limit", 0),
    "memory_bomb_numpy": ("memory limit", 0),
    "memory_bomb_torch": ("memory limit", 0),
    "disk_filler": ("disk limit", 0),
    "stdout_flood": ("output limit", 0),
    "segfault": ("kernel died", 0),
    "sys_exit": ("called sys.exit(0) while being imported", 6),  # its honest partial code earns 6
    "os_exit": ("exited with code 0", 0),
}


@pytest.mark.parametrize("name", sorted(LIMITED))
def test_each_attack_ends_in_a_named_result_without_points(graded: dict[str, Any], name: str) -> None:
    phrase, most = LIMITED[name]
    result = _result(graded, name)
    text = _problems(result) + " " + " ".join(c.message for c in result.checks)
    assert phrase in text, (phrase, result.problems)
    assert result.score <= most


@pytest.mark.parametrize("name", ["loop_ignore_signals", "sleep_in_c"])
def test_code_that_never_returns_is_stopped_by_a_time_limit(graded: dict[str, Any], name: str) -> None:
    result = _result(graded, name)
    assert "time limit" in _problems(result), result.problems
    assert result.score == 0


def test_the_limits_that_hit_are_recorded_by_name(graded: dict[str, Any]) -> None:
    assert "processes" in _result(graded, "fork_bomb").isolation["limits_hit"]
    assert "memory" in _result(graded, "memory_bomb_numpy").isolation["limits_hit"]
    assert "disk" in _result(graded, "disk_filler").isolation["limits_hit"]
    assert _result(graded, "stdout_flood").isolation["output_truncated"] is True


def test_a_gigabyte_of_output_keeps_its_head_and_tail(graded: dict[str, Any]) -> None:
    result = _result(graded, "stdout_flood")
    stdout = result.logs["stdout"]
    assert stdout.startswith("FLOOD-HEAD") and stdout.rstrip().endswith("FLOOD-TAIL")
    assert "bytes of output omitted" in stdout and len(stdout) < 2 * LIMITS["output_kb"] * 1024


def test_no_process_of_any_run_survives(graded: dict[str, Any]) -> None:
    assert marked_pids() == []
    leftovers = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"dlgrader-daemon-fixture" in cmdline or b"sleep 100000" in cmdline:
                leftovers.append(cmdline.decode(errors="replace"))
    assert leftovers == []
    assert "DAEMON-FIXTURE-DONE" in _stdout(_result(graded, "daemon"))


def test_killing_its_parent_costs_nobody_else_anything(graded: dict[str, Any]) -> None:
    result = _result(graded, "kill_parent")
    assert result.score == 0 and "KILL-PARENT-END" in _stdout(result)
    if graded["backend"] == "bwrap":  # its parent is the namespace's init, which ignores it; kill(-1) finds nobody
        assert "BLOCKED all: ProcessLookupError" in _stdout(result)
    assert _result(graded, "bob_einsum").score == _result(graded, "alice_notebook").score > 0


def test_reads_of_what_a_run_must_not_see_are_blocked(graded: dict[str, Any]) -> None:
    if graded["backend"] != "bwrap":
        pytest.skip("only the bwrap backend hides the host's files (the process backend is documented as weaker)")
    lines = _stdout(_result(graded, "reader"))
    assert any(line.startswith("SEARCHED") for line in lines), lines[-5:]
    assert [line for line in lines if line.startswith("LEAK")] == []
    blocked = {line.split(":")[0].removeprefix("BLOCKED ") for line in lines if line.startswith("BLOCKED")}
    assert {"reference", "other_submission", "hidden_labels", "spec_hidden_checks", "grader_source",
            "results_folder", "calibration_cache", "/etc/shadow", "/root"} <= blocked


def test_writes_outside_the_run_are_blocked(graded: dict[str, Any]) -> None:
    if graded["backend"] != "bwrap":
        pytest.skip("only the bwrap backend makes the host read-only for a run")
    lines = _stdout(_result(graded, "writer"))
    assert "WRITER-DONE" in lines
    assert [line for line in lines if line.startswith("WROTE")] == []
    for name, path in graded["write_targets"].items():
        assert Path(path).exists(), name
        if name in graded["before"]:
            assert _digest(Path(path)) == graded["before"][name], name
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        assert not (folder / "pwned-by-writer").exists()


def test_dropped_pth_and_sitecustomize_files_go_nowhere(graded: dict[str, Any]) -> None:
    lines = _stdout(_result(graded, "pth_drop"))
    assert "PTH-DROP-DONE" in lines
    dropped = [line for line in lines if line.startswith("DROPPED")]
    if graded["backend"] == "bwrap":
        assert all("/work/" in line for line in dropped), dropped
    assert sorted(p.name for p in Path(sys.prefix).rglob("*.pth")) == graded["site_before"]
    assert not Path("/tmp/pth-ran").exists()


def test_no_connection_leaves_the_sandbox(graded: dict[str, Any]) -> None:
    lines = _stdout(_result(graded, "sockets"))
    assert "SOCKETS-DONE" in lines
    assert [line for line in lines if line.startswith("CONNECTED")] == []
    assert graded["listener"].accepted == 0


@pytest.mark.parametrize("name", ["monkeypatch_everything", "fake_results"])
def test_forged_results_earn_nothing_the_code_did_not(graded: dict[str, Any], name: str) -> None:
    result = _result(graded, name)
    # A module returning zeros passes pointwise_shapes and pointwise_gradcheck honestly (4 points);
    # everything judged against the reference's outputs stays failed, whatever the run wrote.
    assert result.score <= 4, {c.id: c.status for c in result.checks}
    for check in ("pointwise_forward", "pointwise_gradients", "model_learns"):
        assert next(c for c in result.checks if c.id == check).status != "pass", check
    report = (graded["out"] / "conv1x1" / "check" / name / "result.json").read_text()
    assert json.loads(report)["score"] == result.score


def test_malformed_observations_are_graded_errors(graded: dict[str, Any]) -> None:
    result = _result(graded, "bad_observations")
    assert result.score <= 4
    by_id = {c.id: c for c in result.checks}
    assert by_id["pointwise_forward"].status != "pass"  # NaN outputs
    tampered = [by_id["pointwise_shapes"], by_id["pointwise_param_count"]]
    assert all(c.status == "error" and "could not be accepted" in c.message for c in tampered), \
        [(c.status, c.message) for c in tampered]
    assert not Path("/tmp/traversal.npy").exists()


@pytest.fixture(scope="module")
def graded_by_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    """A few of the attacks under the weaker process backend: the same limits hold, and it says it is weaker."""
    root = tmp_path_factory.mktemp("adversarial-process")
    write_spec_variant(root / "assignments", "conv1x1", LIMITS)
    picked = [ADVERSARIAL / name for name in ("memory_bomb_numpy.py", "daemon.py", "disk_filler.py", "thread_bomb.py")]
    loaded = load_spec(root / "assignments" / "conv1x1" / "spec.yaml", root=REPO)
    with Batch(loaded, "check", sandbox_name="process", workers=2) as batch:
        results = batch.grade(discover([GOOD[0], *picked]), root / "reports")
    return {r.student: r for r in results}


def test_the_process_backend_keeps_the_limits_and_names_itself_weaker(graded_by_process: dict[str, SubmissionResult]) -> None:
    assert graded_by_process["bob_einsum"].score == 24
    assert "memory" in graded_by_process["memory_bomb_numpy"].isolation["limits_hit"]
    assert "disk" in graded_by_process["disk_filler"].isolation["limits_hit"]
    assert "processes" in graded_by_process["thread_bomb"].isolation["limits_hit"]
    assert all(r.isolation["label"] == "process, weaker" for r in graded_by_process.values())
    assert all(r.score == 0 for name, r in graded_by_process.items() if name != "bob_einsum")
    assert marked_pids() == []
