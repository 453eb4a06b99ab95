"""autoencoder_mnist and fashion_transfer on the real datasets under ``check``, with the spec's real bars.

The reference passes its own checks within the profile's per-submission limit (5 minutes on this 2-core
machine), and a correct student notebook graded in the same batch receives full marks. Skipped, with the
reason, where ``../shared/datasets`` is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.pipeline import Batch
from grader.spec import load_spec
from grader.submissions import discover

from .conftest import REPO

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.mark.parametrize("assignment, notebook", [("autoencoder_mnist", "ada_notebook.ipynb"),
                                                  ("fashion_transfer", "fay_notebook.ipynb")])
def test_reference_and_correct_notebook_on_real_data(real_data_root: Path, tmp_path: Path, assignment: str,
                                                      notebook: str) -> None:
    loaded = load_spec(REPO / "assignments" / assignment / "spec.yaml")
    assert loaded.spec.profiles["check"].limits.submission_s <= 300
    with Batch(loaded, "check", data_root=real_data_root) as batch:
        reference = batch.calibrate()  # raises unless the reference passes every check within the limits
        [result] = batch.grade(discover([REPO / "submissions" / assignment / notebook]), tmp_path)
    assert not reference.cached or reference.duration_s is not None
    assert all(d["canonical"] for d in result.datasets.values())  # MNIST and Fashion-MNIST are the releases
    assert result.score == result.max_score, [c.message for c in result.checks if c.status != "pass"]
