"""End to end on autoencoder_mnist and fashion_transfer: every example submission, the starter and the reference.

Real sandboxed runs and Jupyter kernels on the generated fixture data (``grader/data/fixtures.py``), under the
``check`` profile with shorter limits. The tiny fixture digits are upscaled 8x8 images that a PCA with 32
components reconstructs almost perfectly, so there the PCA bar is relaxed; the real bar is exercised on the
real data in ``test_real_data_assignments.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from grader.pipeline import Batch
from grader.results import SubmissionResult
from grader.sandbox.process import marked_pids
from grader.spec import load_spec
from grader.submissions import discover

from .conftest import FIXTURES, REPO

pytestmark = pytest.mark.slow


def spec_variant(folder: Path, assignment: str, change: Callable[[dict[str, Any]], None]) -> Path:
    raw = yaml.safe_load((REPO / "assignments" / assignment / "spec.yaml").read_text())
    change(raw)
    target = folder / assignment / "spec.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def submission_paths(assignment: str) -> list[Path]:
    """The examples, the reference, the starter, and the test-only fixtures where there are some."""
    paths = [REPO / "submissions" / assignment, REPO / "reference_solutions" / f"{assignment}.py",
             REPO / "assignments" / assignment / "starter.ipynb"]
    return paths + [p for p in [FIXTURES / "submissions" / assignment] if p.is_dir()]


def grade_all(tmp_path_factory: pytest.TempPathFactory, assignment: str,
              change: Callable[[dict[str, Any]], None], workers: int = 1) -> dict[str, SubmissionResult]:
    spec = spec_variant(tmp_path_factory.mktemp("assignments"), assignment, change)
    submissions = discover(submission_paths(assignment))
    with Batch(load_spec(spec, root=REPO), "check", workers=workers) as batch:
        results = batch.grade(submissions, tmp_path_factory.mktemp(f"reports-{assignment}"))
    return {r.student: r for r in results}


def statuses(result: SubmissionResult) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


def expect(all_checks: list[str], **others: str) -> dict[str, str]:
    return {cid: others.get(cid, "pass") for cid in all_checks}


# --- autoencoder_mnist -----------------------------------------------------------------------------------------

AE_CHECKS = ["forward_shapes_images", "forward_shapes_flat", "encode_shapes", "decode_shapes", "fully_connected",
             "three_layers", "undercomplete", "gradient_flow", "reconstruction"]


def _ae_fixture_spec(raw: dict[str, Any]) -> None:
    raw["profiles"]["check"]["limits"].update(cell_s=30, submission_s=120)
    check = next(c for c in raw["checks"] if c["id"] == "reconstruction")
    check["budgets"]["check"].update(train_size=1500, eval_size=400, epochs=3)
    check["thresholds"]["check"]["mse_vs_pca"] = 10.0


@pytest.fixture(scope="module")
def ae_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    return grade_all(tmp_path_factory, "autoencoder_mnist", _ae_fixture_spec)


AE_EXPECTED = {
    "autoencoder_mnist": expect(AE_CHECKS),  # the reference, graded as a submission
    "ada_notebook": expect(AE_CHECKS),
    "ben_module": expect(AE_CHECKS),
    "cleo_conv": expect(AE_CHECKS, fully_connected="fail", three_layers="fail", reconstruction="fail"),
    "dan_wide_code": expect(AE_CHECKS, encode_shapes="fail", decode_shapes="error", three_layers="fail",
                            undercomplete="fail"),
    "eve_no_sigmoid": expect(AE_CHECKS, reconstruction="fail"),
    "five_layers": expect(AE_CHECKS, three_layers="fail"),  # another layer count costs that check only
    "starter": {cid: "error" for cid in AE_CHECKS},
}


@pytest.mark.parametrize("student", sorted(AE_EXPECTED))
def test_autoencoder_outcomes(ae_results: dict[str, SubmissionResult], student: str) -> None:
    result = ae_results[student]
    assert result.status == "graded"
    assert statuses(result) == AE_EXPECTED[student], [c.message for c in result.checks if c.status != "pass"]


def test_autoencoder_correct_submissions_get_full_marks(ae_results: dict[str, SubmissionResult]) -> None:
    for name in ("ada_notebook", "ben_module"):
        assert ae_results[name].score == ae_results[name].max_score == 20


def test_missing_sigmoid_is_explained(ae_results: dict[str, SubmissionResult]) -> None:
    check = next(c for c in ae_results["eve_no_sigmoid"].checks if c.id == "reconstruction")
    assert "is a final sigmoid missing?" in check.message and check.points < check.max_points


def test_reconstruction_grid_in_the_report(ae_results: dict[str, SubmissionResult]) -> None:
    check = next(c for c in ae_results["ada_notebook"].checks if c.id == "reconstruction")
    assert check.figures and check.figures[0]["type"] == "image_grid"
    assert check.figures[0]["row_labels"] == ["hidden test images", "your reconstructions", "the reference's reconstructions"]


# --- fashion_transfer ------------------------------------------------------------------------------------------

FT_CHECKS = ["model_structure", "source_model", "load_pretrained", "replace_head", "freeze_backbone", "make_optimizer",
             "head_only_frozen", "full_finetune_moves_backbone", "accuracy_scratch", "accuracy_full_finetune",
             "accuracy_head_only"]


def _ft_fixture_spec(raw: dict[str, Any]) -> None:
    raw["profiles"]["check"]["limits"].update(cell_s=30, submission_s=240)
    for check in raw["checks"]:
        # the fixture's digits 0-5 are 1,080 training images: a few epochs make as many steps as the real budget
        check["budgets"]["check"].update(train_size=1200, eval_size=400, source_train_size=0, source_epochs=3, epochs=2)


@pytest.fixture(scope="module")
def ft_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    return grade_all(tmp_path_factory, "fashion_transfer", _ft_fixture_spec)


FT_EXPECTED = {
    "fashion_transfer": expect(FT_CHECKS),
    "fay_notebook": expect(FT_CHECKS),
    "gus_module": expect(FT_CHECKS),
    "hal_weight_decay": expect(FT_CHECKS, freeze_backbone="fail", make_optimizer="fail", head_only_frozen="fail"),
    "ivy_reinit_head": expect(FT_CHECKS, replace_head="fail", accuracy_head_only="fail"),
    "jon_strict_false": expect(FT_CHECKS, load_pretrained="fail"),
    "starter": {cid: "error" for cid in FT_CHECKS},
}


@pytest.mark.parametrize("student", sorted(FT_EXPECTED))
def test_transfer_outcomes(ft_results: dict[str, SubmissionResult], student: str) -> None:
    result = ft_results[student]
    assert result.status == "graded"
    assert statuses(result) == FT_EXPECTED[student], [c.message for c in result.checks if c.status != "pass"]


def test_transfer_correct_submissions_get_full_marks(ft_results: dict[str, SubmissionResult]) -> None:
    for name in ("fay_notebook", "gus_module"):
        assert ft_results[name].score == ft_results[name].max_score == 30


def test_frozen_weights_moved_by_weight_decay_are_named(ft_results: dict[str, SubmissionResult]) -> None:
    checks = {c.id: c for c in ft_results["hal_weight_decay"].checks}
    assert "backbone parameters" in checks["head_only_frozen"].message and "changed" in checks["head_only_frozen"].message
    assert "(all zeros)" in checks["head_only_frozen"].message  # hooks zero the gradient: it is not None
    assert "with weight decay" in checks["make_optimizer"].message


def test_strict_false_loading_nothing_is_explained(ft_results: dict[str, SubmissionResult]) -> None:
    check = next(c for c in ft_results["jon_strict_false"].checks if c.id == "load_pretrained")
    assert "strict=False" in check.message


def test_learning_curves_and_accuracy_table(ft_results: dict[str, SubmissionResult]) -> None:
    curves, table = ft_results["fay_notebook"].figures
    assert curves["type"] == "line_chart" and [s["name"] for s in curves["series"]] == [
        "(a) from scratch", "(b) fine-tune all", "(c) head only"]
    assert all(len(s["values"]) == 2 for s in curves["series"])
    assert table["type"] == "table" and len(table["rows"]) == 3


def test_no_process_of_a_finished_run_survives(ae_results: dict[str, SubmissionResult],
                                                ft_results: dict[str, SubmissionResult]) -> None:
    assert marked_pids() == []
