"""The per-check time limit: a function that never returns costs that check, not the submission."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

from grader.pipeline import Batch
from grader.spec import load_spec
from grader.submissions import discover

from .conftest import REPO, write_spec_variant

pytestmark = pytest.mark.slow
BOB = (REPO / "submissions" / "conv1x1" / "bob_einsum.py").read_text()
ENDLESS = "\n\ndef pointwise_output_shape(input_shape, out_channels):\n    while True:\n        pass\n"


def test_endless_function_times_out_only_its_check(tmp_path: Path) -> None:
    spec_path = write_spec_variant(tmp_path / "a", "conv1x1", {"cell_s": 30, "submission_s": 120})
    raw = yaml.safe_load(spec_path.read_text())
    for check in raw["checks"]:
        if check["id"] == "shape_arithmetic":
            check["budgets"] = {"check": {"timeout_s": 2}}
    spec_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "module.py").write_text(BOB + ENDLESS)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(BOB), nbformat.v4.new_code_cell(ENDLESS)]
    nbformat.write(nb, str(subs / "notebook.ipynb"))
    with Batch(load_spec(spec_path, root=REPO), "check") as batch:
        results = batch.grade(discover([subs]), tmp_path / "out")
    for result in results:
        statuses = {c.id: c.status for c in result.checks}
        assert statuses.pop("shape_arithmetic") == "timeout", result.student
        assert set(statuses.values()) <= {"pass", "skipped"}, (result.student, statuses)
        message = next(c.message for c in result.checks if c.id == "shape_arithmetic")
        assert "this check's time limit (2 s)" in message
