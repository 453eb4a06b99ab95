"""End to end on the three CIFAR-10 assignments: every example submission, the starter and the reference.

Real sandboxed runs and Jupyter kernels on the generated fixture CIFAR-10 (``grader/data/fixtures.py``), under
the ``check`` profile with the spec's own checks; only the training budgets are trimmed to the fixture's size
(1,800 training images). Two runs at a time, one core each, as a TA's batch with ``--jobs 2`` would.
"""

from __future__ import annotations

from typing import Any

import pytest

from grader.results import SubmissionResult
from grader.sandbox.process import marked_pids

from .test_e2e_assignments import expect, grade_all, statuses

pytestmark = pytest.mark.slow


# --- resnet50_cifar10 ------------------------------------------------------------------------------------------

RN_CHECKS = ["logits_shape", "bottleneck_stages", "parameter_count", "first_conv_gradient", "dropout_variant",
             "no_dropout_by_default", "split_disjoint", "split_sizes", "split_seeded", "split_stratified",
             "metrics_match_sklearn", "fit_small_batch", "answer_residual", "test_accuracy"]


def rn_expect(**others: str) -> dict[str, str]:
    return expect(RN_CHECKS, answer_residual="manual", test_accuracy="skipped", **others)


def _rn_fixture_spec(raw: dict[str, Any]) -> None:
    raw["profiles"]["check"]["limits"].update(submission_s=400)


@pytest.fixture(scope="module")
def rn_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    return grade_all(tmp_path_factory, "resnet50_cifar10", _rn_fixture_spec, workers=2)


RN_EXPECTED = {
    "resnet50_cifar10": rn_expect(),
    "kim_notebook": rn_expect(),
    "lee_module": rn_expect(),
    "mia_micro_metrics": rn_expect(metrics_match_sklearn="fail"),
    "ned_transposed_cm": rn_expect(metrics_match_sklearn="fail"),
    "oli_leaky_split": rn_expect(split_disjoint="fail"),
    "pat_dropout_eval": rn_expect(dropout_variant="fail"),
    "quinn_unseeded_split": rn_expect(split_seeded="fail"),
    "starter": {**{cid: "error" for cid in RN_CHECKS}, "answer_residual": "manual", "test_accuracy": "skipped"},
}


@pytest.mark.parametrize("student", sorted(RN_EXPECTED))
def test_resnet_outcomes(rn_results: dict[str, SubmissionResult], student: str) -> None:
    result = rn_results[student]
    assert result.status == "graded"
    assert statuses(result) == RN_EXPECTED[student], [c.message for c in result.checks if c.status != "pass"]


def test_resnet_messages_name_the_mistake(rn_results: dict[str, SubmissionResult]) -> None:
    def message(student: str, check: str) -> str:
        return next(c.message for c in rn_results[student].checks if c.id == check)

    assert "micro averages" in message("mia_micro_metrics", "metrics_match_sklearn")
    assert "swapped" in message("ned_transposed_cm", "metrics_match_sklearn")
    assert "in both parts" in message("oli_leaky_split", "split_disjoint")
    assert "eval mode: two passes differ" in message("pat_dropout_eval", "dropout_variant")
    assert "CIFAR stem" in message("kim_notebook", "bottleneck_stages")
    assert "ImageNet stem" in message("lee_module", "parameter_count")


def test_resnet_written_answer_awaits_a_ta(rn_results: dict[str, SubmissionResult]) -> None:
    for student in ("kim_notebook", "lee_module"):
        check = next(c for c in rn_results[student].checks if c.id == "answer_residual")
        assert check.points == 0 and check.max_points == 3 and "residual" in check.details["answer"].lower()
        assert rn_results[student].score == rn_results[student].max_score - 3


# --- regularization_subset ------------------------------------------------------------------------------------

RS_CHECKS = ["subset_size", "subset_unique", "subset_random", "subset_balance", "baseline_layers", "regularized_layers",
             "dropout_modes", "batchnorm_modes", "train_transform_random", "eval_transform_deterministic",
             "weight_decay", "baseline_overfits", "regularized_gap_smaller", "train_history"]


def _rs_fixture_spec(raw: dict[str, Any]) -> None:
    # The fixture's classes are easy: a few epochs on a few hundred images already open the baseline's gap.
    for check in raw["checks"]:
        if check["kind"] == "overfitting":
            check["budgets"]["check"].update(epochs=6, subset_size=300, val_size=300)


@pytest.fixture(scope="module")
def rs_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    return grade_all(tmp_path_factory, "regularization_subset", _rs_fixture_spec, workers=2)


RS_EXPECTED: dict[str, dict[str, str]] = {
    "regularization_subset": expect(RS_CHECKS),
    "ray_notebook": expect(RS_CHECKS),
    "sam_module": expect(RS_CHECKS),
    "tom_prefix_subset": expect(RS_CHECKS, subset_random="fail"),
    "uma_eval_augment": expect(RS_CHECKS, eval_transform_deterministic="fail"),
    "vic_no_decay": expect(RS_CHECKS, weight_decay="fail"),
    "wes_functional_dropout": expect(RS_CHECKS, regularized_layers="fail", dropout_modes="fail"),
    "xan_subset_replacement": expect(RS_CHECKS, subset_unique="fail"),
    "starter": {cid: "error" for cid in RS_CHECKS},
}


# The generated images are too regular to overfit (validation accuracy follows training accuracy), so the two gap
# checks are not decided here; they are, on the real CIFAR-10, in test_real_data_cifar.py.
GAP_CHECKS = {"baseline_overfits", "regularized_gap_smaller"}


@pytest.mark.parametrize("student", sorted(RS_EXPECTED))
def test_regularization_outcomes(rs_results: dict[str, SubmissionResult], student: str) -> None:
    result = rs_results[student]
    assert result.status == "graded"
    seen = {cid: status for cid, status in statuses(result).items() if cid not in GAP_CHECKS}
    wanted = {cid: status for cid, status in RS_EXPECTED[student].items() if cid not in GAP_CHECKS}
    assert seen == wanted, [c.message for c in result.checks if c.status != "pass"]
    if student != "starter":  # the experiment ran and was measured by the grader, whatever its outcome
        check = next(c for c in result.checks if c.id == "regularized_gap_smaller")
        assert set(check.details["measured"]) == {"baseline", "regularized"}, check.message


def test_regularization_curves_and_measured_gaps(rs_results: dict[str, SubmissionResult]) -> None:
    check = next(c for c in rs_results["ray_notebook"].checks if c.id == "regularized_gap_smaller")
    curves, table = check.figures
    assert curves["type"] == "line_chart" and {s["name"] for s in curves["series"]} == {
        "baseline train_acc", "baseline val_acc", "regularized train_acc", "regularized val_acc"}
    assert table["type"] == "table" and [row[0] for row in table["rows"]] == ["baseline", "regularized"]


# --- inception_cifar10 ----------------------------------------------------------------------------------------

IN_CHECKS = ["module_channels", "branches_contribute", "conv_output_size", "model_output_shape", "model_uses_inception",
             "gradient_flow", "short_training", "test_accuracy"]


def in_expect(**others: str) -> dict[str, str]:
    return expect(IN_CHECKS, test_accuracy="skipped", **others)


def _in_fixture_spec(raw: dict[str, Any]) -> None:
    check = next(c for c in raw["checks"] if c["id"] == "short_training")
    check["budgets"]["check"].update(train_size=1000, eval_size=400, val_size=200)


@pytest.fixture(scope="module")
def in_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    return grade_all(tmp_path_factory, "inception_cifar10", _in_fixture_spec, workers=2)


IN_EXPECTED = {
    "inception_cifar10": in_expect(),
    "xia_notebook": in_expect(),
    "yan_module": in_expect(),
    "zed_stride2": in_expect(module_channels="error", branches_contribute="error", model_output_shape="error",
                             model_uses_inception="error", gradient_flow="error", short_training="error"),
    "abe_missing_branch": in_expect(module_channels="fail", branches_contribute="fail", gradient_flow="fail"),
    "bea_formula": in_expect(conv_output_size="fail"),
    "cal_no_relu_sum": in_expect(module_channels="fail", branches_contribute="fail"),
    "starter": {**{cid: "error" for cid in IN_CHECKS}, "test_accuracy": "skipped"},
}


@pytest.mark.parametrize("student", sorted(IN_EXPECTED))
def test_inception_outcomes(in_results: dict[str, SubmissionResult], student: str) -> None:
    result = in_results[student]
    assert result.status == "graded"
    assert statuses(result) == IN_EXPECTED[student], [c.message for c in result.checks if c.status != "pass"]


def test_inception_branch_left_out_is_named(in_results: dict[str, SubmissionResult]) -> None:
    check = next(c for c in in_results["abe_missing_branch"].checks if c.id == "branches_contribute")
    assert "pool branch" in check.message and check.points == pytest.approx(0.75 * check.max_points)


def test_no_process_of_a_finished_run_survives(rn_results: dict[str, SubmissionResult],
                                                rs_results: dict[str, SubmissionResult],
                                                in_results: dict[str, SubmissionResult]) -> None:
    assert marked_pids() == []


def test_holdout_run_draws_curves_and_confusion_matrix(in_results: dict[str, SubmissionResult]) -> None:
    check = next(c for c in in_results["xia_notebook"].checks if c.id == "short_training")
    kinds = [f["type"] for f in check.figures]
    assert kinds == ["line_chart", "confusion_matrix"]
    matrix = check.figures[1]["matrix"]
    assert len(matrix) == 10 and sum(map(sum, matrix)) == 400  # rows = true class, the 400 judged test images
    assert check.figures[1]["labels"][0] == "airplane"
