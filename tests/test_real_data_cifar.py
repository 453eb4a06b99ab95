"""The three CIFAR-10 references on the real CIFAR-10 under ``check``, with the spec's real budgets and bars.

Each reference must pass every check of its own assignment within the profile's per-submission limit (5 minutes
on this 2-core machine); the overfitting experiment must show on real images what it claims (a large gap for
the baseline, a much smaller one with regularization). The example submissions' outcomes are asserted on the
fixture data (``test_e2e_cifar.py``); here the real data costs a reference run each, which keeps this tier
bounded; only the overfitting experiment of the two correct regularization examples is also run here, because
the generated images are too regular to overfit. Skipped, with the reason, where ``../shared/datasets`` is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.calibration import ReferenceData
from grader.pipeline import Batch
from grader.spec import load_spec
from grader.submissions import discover

from .conftest import REPO

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module", params=["resnet50_cifar10", "regularization_subset", "inception_cifar10"])
def calibrated(request: pytest.FixtureRequest, real_data_root: Path) -> tuple[str, ReferenceData]:
    assignment = request.param
    loaded = load_spec(REPO / "assignments" / assignment / "spec.yaml")
    assert loaded.spec.profiles["check"].limits.submission_s <= 300
    with Batch(loaded, "check", data_root=real_data_root) as batch:
        # raises unless the reference passes every check within the profile's limits
        return assignment, batch.calibrate(force=True)


def test_reference_passes_within_the_limit_on_real_data(calibrated: tuple[str, ReferenceData]) -> None:
    assignment, reference = calibrated
    assert reference.duration_s is not None and reference.duration_s < 300
    if assignment == "regularization_subset":
        figures = reference.figures["regularized_gap_smaller"]
        assert figures["baseline_gap"] > 0.3  # memorises the subset: train far above validation accuracy
        assert figures["regularized_gap"] < 0.5 * figures["baseline_gap"]
    if assignment == "inception_cifar10":
        assert reference.figures["short_training"]["accuracy"] > 0.35  # two epochs on 2,000 images: well above chance


@pytest.fixture(scope="module")
def regularization_examples(real_data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The overfitting experiment of the correct examples and of the no-weight-decay mistake, on real images."""
    loaded = load_spec(REPO / "assignments" / "regularization_subset" / "spec.yaml")
    folder = REPO / "submissions" / "regularization_subset"
    submissions = discover([folder / "ray_notebook.ipynb", folder / "sam_module.py"])
    with Batch(loaded, "check", data_root=real_data_root, workers=2) as batch:
        results = batch.grade(submissions, tmp_path_factory.mktemp("real-regularization"))
    return {r.student: r for r in results}


def test_correct_examples_show_the_gap_on_real_data(regularization_examples: dict[str, Any]) -> None:
    for student in ("ray_notebook", "sam_module"):
        result = regularization_examples[student]
        assert result.score == result.max_score, [c.message for c in result.checks if c.status != "pass"]
