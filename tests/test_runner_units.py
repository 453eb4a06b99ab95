"""Pieces of the sandbox and runner that need no sandboxed run: notebook preparation, environment, capture."""

from __future__ import annotations

import io
import os
from pathlib import Path

import nbformat
import pytest

from grader.plan import build_plan
from grader.runner.notebook import prepare
from grader.sandbox.process import BoundedCapture, scrubbed_env
from grader.spec import load_spec
from grader.submissions import Submission
from grader.workspace import Workspace

from .conftest import REPO

JOB = {"data_dir": "/data", "device": "cpu", "seed": 7, "cpus": 2, "checks": []}


def _notebook(*cells: tuple[str, list[str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, metadata={"tags": tags}) for src, tags in cells]
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("# notes"))
    return nb


def test_parameters_are_injected_after_the_tagged_cell_and_skipped_cells_dropped() -> None:
    nb = _notebook(("import torch", []), ("DEVICE = 'cuda'", ["parameters"]), ("slow()", ["skip-grading"]), ("x = 1", []))
    run_nb, records = prepare(nb, JOB, "/job.json")
    roles = [c.metadata.get("dlgrader_injected") or c.source for c in run_nb.cells]
    assert roles == ["setup", "import torch", "DEVICE = 'cuda'", "parameters", "x = 1", "probes"]
    params = run_nb.cells[3].source
    assert "DEVICE = 'cpu'" in params and "SEED = 7" in params and "GRADING = True" in params and "DATA_ROOT = '/data'" in params
    assert [r["status"] for r in records] == ["not run", "markdown", "not run", "skipped", "not run"]
    assert [r["cell"] for r in records] == [1, 2, 3, 4, 5]


def test_without_a_parameters_cell_the_values_go_first() -> None:
    run_nb, _ = prepare(_notebook(("x = 1", [])), JOB, "/job.json")
    assert [c.metadata.get("dlgrader_injected") for c in run_nb.cells] == ["setup", "parameters", None, "probes"]


def test_environment_is_scrubbed_and_carries_the_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    loaded = load_spec(REPO / "assignments" / "conv1x1" / "spec.yaml")
    plan = build_plan(loaded, "check")
    workspace = Workspace(tmp_path)
    module = REPO / "submissions" / "conv1x1" / "bob_einsum.py"
    job = workspace.new_job(Submission("bob", module, module), plan, "0001-bob")
    env = scrubbed_env(job, "marker")
    assert "SECRET_TOKEN" not in env and "hunter2" not in "".join(env.values())
    assert env["GRADING"] == "True" and env["DEVICE"] == "cpu" and env["SEED"] == "0"
    assert env["DATA_ROOT"] == str(workspace.data_dir)
    assert env["OMP_NUM_THREADS"] == str(plan.cpus) and env["HOME"] == str(job.work_dir)
    assert (job.work_dir / "bob_einsum.py").read_text() == module.read_text()
    payload = job.runner_payload()
    assert "thresholds" not in str(payload) and "eval_y" not in str(payload)
    workspace.cleanup()
    assert not workspace.root.exists()


def test_bounded_capture_keeps_head_and_tail() -> None:
    stream = io.BufferedReader(io.BytesIO(b"HEAD" + b"x" * 100_000 + b"TAIL"))  # type: ignore[arg-type]
    capture = BoundedCapture(stream, limit=1000)
    capture.thread.join()
    text, truncated = capture.text()
    assert truncated and text.startswith("HEAD") and text.endswith("TAIL")
    assert "bytes of output omitted" in text and len(text) < 1200
    assert os.environ.get("DLGRADER_RUN") is None


def test_notebook_output_is_bounded_per_cell() -> None:
    """nbclient keeps every output message; the runner's client keeps a bounded head, a count and a tail."""
    import nbformat

    from grader.runner.notebook import CELL_OUTPUT_BYTES, TAIL_CHARS, bounded_client

    client = bounded_client(nbformat.v4.new_notebook())
    client.reset_execution_trackers()  # what nbclient does before executing, and per cell:
    client.clear_before_next_output = False
    outs: list = []
    chunk = "x" * 1023 + "\n"
    for i in range(2 * CELL_OUTPUT_BYTES // len(chunk)):
        msg = {"msg_type": "stream", "parent_header": {"msg_id": "m"}, "header": {"msg_type": "stream"},
               "content": {"name": "stdout", "text": chunk if i else "HEAD\n"}}
        client.output(outs, msg, None, 0)
    last = {"msg_type": "stream", "parent_header": {"msg_id": "m"}, "header": {"msg_type": "stream"},
            "content": {"name": "stdout", "text": "TAIL\n"}}
    client.output(outs, last, None, 0)
    kept = sum(len(o.get("text", "")) for o in outs)
    assert kept <= CELL_OUTPUT_BYTES and outs[0]["text"] == "HEAD\n"
    assert client.omitted[0] >= CELL_OUTPUT_BYTES - len(chunk)
    assert client.tails[0].endswith("TAIL\n") and len(client.tails[0]) <= TAIL_CHARS
