"""Trusted scoring on hand-made observations: no sandbox, no torch."""

from __future__ import annotations

import math
import re
import signal
from typing import Any

import numpy as np
import pytest

from grader.artifacts import CheckArtifact, ObservationRecord, RunArtifacts, sanitize_load
from grader.checks import get_kind
from grader.checks.base import Observation, ScoreContext, Verdict, all_raised, compose_message
from grader.checks.training import held_out_metrics
from grader.plan import Plan, PlannedCheck
from grader.results import CellResult, LoadResult
from grader.sandbox.job import Outcome
from grader.scoring import describe_exit, run_problems, score_checks


def context(kind: str, params: dict[str, Any], student: Observation, reference: Observation, *,
            thresholds: dict[str, Any] | None = None, budget: dict[str, Any] | None = None,
            truth: dict[str, dict[str, np.ndarray]] | None = None, hint: str = "") -> ScoreContext:
    module = get_kind(kind)
    return ScoreContext(
        check_id="c", title="a check", params=module.Params.model_validate(params),
        budget=module.Budget.model_validate(budget or {}), thresholds=module.Thresholds.model_validate(thresholds or {}),
        profile="grade", seed=0, student=student, reference=reference, truth=truth or {}, hint=hint,
    )


def score(kind: str, params: dict[str, Any], student: Observation, reference: Observation, **kwargs: Any) -> Verdict:
    return get_kind(kind).score(context(kind, params, student, reference, **kwargs))


# --- training -------------------------------------------------------------------------------------------

LABELS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0])


def perfect_logits(labels: np.ndarray, classes: int = 10, margin: float = 20.0) -> np.ndarray:
    logits = np.zeros((len(labels), classes))
    logits[np.arange(len(labels)), labels] = margin
    return logits


def test_held_out_metrics_uniform_logits() -> None:
    metrics = held_out_metrics(np.zeros((len(LABELS), 10), dtype=np.float32), LABELS)
    assert metrics["loss"] == pytest.approx(math.log(10))
    assert metrics["accuracy"] == pytest.approx(3 / 12)  # argmax of a tie is class 0


def test_held_out_metrics_perfect_and_shift_invariant() -> None:
    metrics = held_out_metrics(perfect_logits(LABELS), LABELS)
    assert metrics["accuracy"] == 1.0
    assert metrics["loss"] == pytest.approx(0.0, abs=1e-6)
    shifted = held_out_metrics(perfect_logits(LABELS) + 1000.0, LABELS)  # no overflow: log-sum-exp is shifted
    assert shifted["loss"] == pytest.approx(metrics["loss"], abs=1e-9)


@pytest.mark.parametrize(
    "logits",
    [np.full((12, 10), np.nan), np.full((12, 10), np.inf), np.zeros((11, 10)), np.zeros(12), np.zeros((0,))],
    ids=["nan", "inf", "wrong-rows", "1d", "empty"],
)
def test_held_out_metrics_unusable_logits(logits: np.ndarray) -> None:
    assert held_out_metrics(logits, LABELS) == {"loss": float("inf"), "accuracy": 0.0}


TRAINING_PARAMS = {"target": "build_model", "dataset": "cifar_like"}
TRUTH = {"cifar_like": {"eval_y": np.concatenate([LABELS, LABELS])}}  # longer than judged: sliced to the reference's n


def training_observation(before: np.ndarray, after: np.ndarray) -> Observation:
    return Observation(data={"train_loss": [2.3, 1.0], "train_size": 100}, arrays={"logits_before": before, "logits_after": after})


REFERENCE_TRAINING = training_observation(np.zeros((12, 10)), perfect_logits(LABELS, margin=3.0))


@pytest.mark.parametrize(
    ("student_after", "thresholds", "fraction"),
    [
        (perfect_logits(LABELS, margin=3.0), {"loss_drop_vs_reference": 0.4}, 1.0),
        (np.zeros((12, 10)), {"loss_drop_vs_reference": 0.4}, 0.0),  # did not learn
        (perfect_logits(LABELS, margin=3.0), {"accuracy_vs_reference": 0.85, "min_accuracy": 0.8}, 1.0),
        (perfect_logits(np.zeros(12, dtype=int)), {"accuracy_vs_reference": 0.85, "min_accuracy": 0.2}, 0.5),
        (np.full((12, 10), np.nan), {}, 0.0),  # no thresholds: finite predictions are the bar
        (np.zeros((12, 10)), {}, 1.0),
    ],
    ids=["learns", "flat", "two-bars", "one-of-two", "nan-no-bars", "finite-no-bars"],
)
def test_training_score(student_after: np.ndarray, thresholds: dict[str, Any], fraction: float) -> None:
    student = training_observation(np.zeros((12, 10)), student_after)
    verdict = score("training", TRAINING_PARAMS, student, REFERENCE_TRAINING, thresholds=thresholds,
                    budget={"epochs": 2}, truth=TRUTH, hint="check activations")
    assert verdict.fraction == pytest.approx(fraction)
    assert "judged on 12 held-out images" in verdict.message
    assert ("Hint: check activations" in verdict.message) == (fraction < 1)
    assert verdict.details["reference"]["after"]["accuracy"] == 1.0


def test_training_score_without_student_arrays() -> None:
    verdict = score("training", TRAINING_PARAMS, Observation(), REFERENCE_TRAINING,
                    thresholds={"loss_drop_vs_reference": 0.4}, truth=TRUTH)
    assert verdict.fraction == 0.0
    assert "NOT met" in verdict.message


def wrong_class_logits(labels: np.ndarray, classes: int = 10, margin: float = 1e6) -> np.ndarray:
    """Confidently wrong: a huge (finite) loss."""
    return perfect_logits((labels + 1) % classes, classes, margin)


@pytest.mark.parametrize(
    "before",
    [np.full((12, 10), np.nan), np.full((12, 10), np.inf), wrong_class_logits(LABELS), np.zeros((12, 3)), np.zeros((0,))],
    ids=["nan", "inf", "huge-finite", "too-few-columns", "absent"],
)
def test_training_bad_before_logits_do_not_earn_the_loss_drop(before: np.ndarray) -> None:
    student = training_observation(before, np.zeros((12, 10)))  # uniform after: learned nothing
    verdict = score("training", TRAINING_PARAMS, student, REFERENCE_TRAINING,
                    thresholds={"loss_drop_vs_reference": 0.4}, truth=TRUTH)
    assert verdict.fraction == 0.0
    assert re.search(r"held-out loss fell by -?0\.000 ", verdict.message)  # from ln(10), the loss of uniform logits


def test_training_bad_before_logits_still_allow_a_real_drop() -> None:
    """The cap only limits the starting loss: a model that did learn still meets the bar."""
    student = training_observation(wrong_class_logits(LABELS), perfect_logits(LABELS, margin=3.0))
    verdict = score("training", TRAINING_PARAMS, student, REFERENCE_TRAINING,
                    thresholds={"loss_drop_vs_reference": 0.4}, truth=TRUTH)
    assert verdict.fraction == 1.0


def test_training_reference_drop_is_capped_too() -> None:
    """A reference that starts worse than chance is measured from ln(classes), not from its own huge start."""
    reference = training_observation(wrong_class_logits(LABELS), perfect_logits(LABELS, margin=3.0))
    student = training_observation(np.zeros((12, 10)), perfect_logits(LABELS, margin=3.0))
    verdict = score("training", TRAINING_PARAMS, student, reference, thresholds={"loss_drop_vs_reference": 0.9},
                    truth=TRUTH)
    assert verdict.fraction == 1.0
    ref_drop = math.log(10) - held_out_metrics(perfect_logits(LABELS, margin=3.0), LABELS)["loss"]
    assert f"the reference's drop of {ref_drop:.3f}" in verdict.message


@pytest.mark.parametrize("columns", [0, 1, 5, 9])
def test_held_out_metrics_too_few_classes(columns: int) -> None:
    assert held_out_metrics(np.zeros((12, columns)), LABELS) == {"loss": float("inf"), "accuracy": 0.0}


def test_held_out_metrics_more_columns_than_labels_need() -> None:
    metrics = held_out_metrics(np.zeros((12, 20)), LABELS)
    assert metrics["loss"] == pytest.approx(math.log(20))


def test_training_message_names_the_target() -> None:
    params = {**TRAINING_PARAMS, "target": "make_net"}
    student = training_observation(np.zeros((12, 10)), perfect_logits(LABELS, margin=3.0))
    message = score("training", params, student, REFERENCE_TRAINING, truth=TRUTH).message
    assert "make_net" in message and "build_model" not in message


# --- numeric_answers ------------------------------------------------------------------------------------

ANSWER_PARAMS = {"target": "ANSWERS", "keys": {"dF": {"rtol": 0.001, "atol": 0.001}, "counts": {"rtol": 0, "atol": 0}}}
ANSWER_REFERENCE = Observation(data={"keys": {"dF": "ok", "counts": "ok"}},
                               arrays={"dF": np.array([[0.25, 0.5], [0.75, 1.0]]), "counts": np.array([10.0, 20.0, 30.0])})


def answers(dF: Any = None, counts: Any = None, status: dict[str, str] | None = None) -> Observation:
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in (("dF", dF), ("counts", counts)) if v is not None}
    status = status or {k: "ok" for k in arrays}
    return Observation(data={"keys": status}, arrays=arrays)


def test_numeric_answers_correct() -> None:
    student = answers([[0.2504, 0.5], [0.75, 1.0]], [10, 20, 30])  # within the dF tolerance
    verdict = score("numeric_answers", ANSWER_PARAMS, student, ANSWER_REFERENCE)
    assert verdict.fraction == 1.0 and verdict.passed
    assert verdict.message == "2 of 2 answers are correct."


def test_numeric_answers_wrong_value() -> None:
    verdict = score("numeric_answers", ANSWER_PARAMS, answers([[0.25, 0.5], [0.75, 1.0]], [10, 20, 31]),
                    ANSWER_REFERENCE, hint="count the bias")
    assert verdict.fraction == 0.5
    assert "ANSWERS['counts']: 1 of 3 entries are not within tolerance" in verdict.message
    assert "Hint: count the bias" in verdict.message


def test_numeric_answers_missing_key() -> None:
    student = answers(dF=[[0.25, 0.5], [0.75, 1.0]], status={"dF": "ok", "counts": "missing"})
    verdict = score("numeric_answers", ANSWER_PARAMS, student, ANSWER_REFERENCE)
    assert verdict.fraction == 0.5
    assert "ANSWERS['counts'] is missing" in verdict.message


def test_numeric_answers_not_numeric() -> None:
    student = answers(dF=[[0.25, 0.5], [0.75, 1.0]], status={"dF": "ok", "counts": "not numeric (could not convert)"})
    verdict = score("numeric_answers", ANSWER_PARAMS, student, ANSWER_REFERENCE)
    assert "ANSWERS['counts'] is not numeric" in verdict.message


def test_numeric_answers_wrong_shape() -> None:
    verdict = score("numeric_answers", ANSWER_PARAMS, answers([0.25, 0.5, 0.75, 1.0], [10, 20, 30]), ANSWER_REFERENCE)
    assert verdict.fraction == 0.5
    assert "ANSWERS['dF'] has shape (4,); expected shape (2, 2)" in verdict.message


def test_numeric_answers_nan_is_wrong() -> None:
    verdict = score("numeric_answers", ANSWER_PARAMS, answers([[np.nan, 0.5], [0.75, 1.0]], [10, 20, 30]), ANSWER_REFERENCE)
    assert verdict.fraction == 0.5


def test_numeric_answers_not_a_dict() -> None:
    student = Observation(data={"error": "`ANSWERS` is a list, not a dict"})
    verdict = score("numeric_answers", ANSWER_PARAMS, student, ANSWER_REFERENCE)
    assert verdict.fraction == 0.0
    assert verdict.message == "`ANSWERS` is a list, not a dict"


def test_numeric_answers_not_a_dict_shows_hint_without_stray_lines() -> None:
    student = Observation(data={"error": "`ANSWERS` is a list, not a dict"})
    verdict = score("numeric_answers", ANSWER_PARAMS, student, ANSWER_REFERENCE, hint="use a dict")
    assert verdict.message == "`ANSWERS` is a list, not a dict\nHint: use a dict"


# --- call_equivalence -----------------------------------------------------------------------------------

CALL_PARAMS = {"target": "pointwise_output_shape", "sequence_as": "tuple", "cases": [{"args": [[2, 3, 8, 8], 5]}]}
CALL_REFERENCE = Observation(data={"cases": [{"value": [2, 5, 8, 8], "type": "tuple"}]})


def returned(value: Any, type_name: str) -> Observation:
    return Observation(data={"cases": [{"value": value, "type": type_name}]})


def test_call_equivalence_tuple_passes() -> None:
    verdict = score("call_equivalence", CALL_PARAMS, returned([2, 5, 8, 8], "tuple"), CALL_REFERENCE)
    assert verdict.passed
    assert verdict.message == "1 of 1 calls returned the expected value."


def test_call_equivalence_list_when_tuple_required() -> None:
    verdict = score("call_equivalence", CALL_PARAMS, returned([2, 5, 8, 8], "list"), CALL_REFERENCE)
    assert verdict.fraction == 0.0
    assert "pointwise_output_shape((2, 3, 8, 8), 5) returned a list; the interface asks for a tuple" in verdict.message


def test_call_equivalence_any_sequence_type() -> None:
    params = {**CALL_PARAMS, "sequence_as": "any"}
    assert score("call_equivalence", params, returned([2, 5, 8, 8], "list"), CALL_REFERENCE).passed


def test_call_equivalence_wrong_value_and_error() -> None:
    params = {**CALL_PARAMS, "cases": [{"args": [[2, 3, 8, 8], 5]}, {"args": [[1, 1, 1, 1], 2]}]}
    reference = Observation(data={"cases": [{"value": [2, 5, 8, 8], "type": "tuple"}, {"value": [1, 2, 1, 1], "type": "tuple"}]})
    student = Observation(data={"cases": [{"value": [2, 3, 8, 8], "type": "tuple"}, {"error": "TypeError: nope"}]})
    verdict = score("call_equivalence", params, student, reference)
    assert verdict.fraction == 0.0
    assert "returned [2, 3, 8, 8]; expected [2, 5, 8, 8]" in verdict.message
    assert "pointwise_output_shape((1, 1, 1, 1), 2) raised TypeError: nope" in verdict.message


def test_call_equivalence_close_compare() -> None:
    params = {"target": "f", "compare": "close", "cases": [{"args": [1]}]}
    reference = Observation(data={"cases": [{"value": [1.0, 2.0], "type": "list"}]})
    near = Observation(data={"cases": [{"value": [1.0 + 1e-7, 2.0], "type": "list"}]})
    far = Observation(data={"cases": [{"value": [1.1, 2.0], "type": "list"}]})
    assert score("call_equivalence", params, near, reference).passed
    assert not score("call_equivalence", params, far, reference).passed
    assert not score("call_equivalence", {**params, "compare": "exact"}, near, reference).passed


def test_call_equivalence_fewer_student_cases() -> None:
    params = {**CALL_PARAMS, "cases": [{"args": [[2, 3, 8, 8], 5]}, {"args": [[1, 1, 1, 1], 2]}]}
    # A student record with the wrong number of cases is malformed: the scorer refuses it (zip strict),
    # and grader.scoring turns that into an "error" status for the check.
    with pytest.raises(ValueError):
        score("call_equivalence", params, returned([2, 5, 8, 8], "tuple"), CALL_REFERENCE)


# --- architecture ---------------------------------------------------------------------------------------

ARCH = {"target": "build_model", "init": {"num_classes": 10}, "input": [4, 3, 32, 32]}


@pytest.mark.parametrize(("seen", "passed"), [([4, 10], True), ([4, 5], False), ([4, 10, 1], False)])
def test_architecture_output_shape(seen: list[int], passed: bool) -> None:
    params = {**ARCH, "predicate": "output_shape", "expected_output": [4, "$num_classes"]}
    verdict = score("architecture", params, Observation(data={"output_shape": seen}), Observation(), hint="flatten")
    assert verdict.passed is passed
    assert "(4, 10)" in verdict.message
    lines = verdict.message.splitlines()
    assert not any(line.startswith("- ") for line in lines)  # no stray problem lines
    assert lines[1:] == ([] if passed else ["Hint: flatten"])


def conv(path: str, cin: int, cout: int, kernel: int = 1, **extra: Any) -> dict[str, Any]:
    return {"path": path, "type": "Conv2d", "pointwise_class": False, "kernel_size": [kernel, kernel],
            "in_channels": cin, "out_channels": cout, "stride": [1, 1], "groups": 1, **extra}


@pytest.mark.parametrize(
    ("modules", "passed"),
    [
        ([conv("features.0", 3, 64, 3), conv("features.2", 64, 16)], True),
        ([conv("features.0", 3, 64, 3), conv("features.2", 64, 128)], False),  # 1x1 but expanding
        ([conv("features.0", 3, 64, 3), conv("features.1", 64, 16, 3)], False),  # reducing but 3x3
        ([{"path": "reduce", "type": "PointwiseConv", "pointwise_class": True,
           "in_shape": [2, 64, 8, 8], "out_shape": [2, 16, 8, 8]}], True),
        ([{"path": "reduce", "type": "PointwiseConv", "pointwise_class": True,
           "in_shape": [2, 64, 8, 8], "out_shape": [2, 16, 4, 4]}], False),  # spatial size changed
        ([{"path": "reduce", "type": "PointwiseConv", "pointwise_class": False,
           "in_shape": [2, 64, 8, 8], "out_shape": [2, 16, 8, 8]}], False),  # not the interface class
        ([], False),
    ],
    ids=["conv2d-1x1", "expanding", "3x3", "pointwise-class", "pointwise-class-resizes", "other-class", "empty"],
)
def test_architecture_pointwise_reduction(modules: list[dict[str, Any]], passed: bool) -> None:
    params = {**ARCH, "predicate": "pointwise_channel_reduction", "pointwise_classes": ["PointwiseConv"]}
    verdict = score("architecture", params, Observation(data={"modules": modules}), Observation(), hint="add one")
    assert verdict.passed is passed
    if passed:
        assert verdict.message.startswith("Found a channel-reducing 1x1 convolution")
        assert "Hint" not in verdict.message
    else:
        lines = verdict.message.splitlines()
        assert lines[0].startswith("No 1x1 convolution that reduces the number of channels")
        assert lines[1:] == ["Hint: add one"]  # no stray '- missing' line


@pytest.mark.parametrize(
    ("norms", "fraction"),
    [([1.0, 0.5], 1.0), ([1.0, 0.0], 0.5), ([1.0, -1.0, float("nan"), float("inf")], 0.25), ([], 0.0)],
    ids=["all", "one-zero", "none-nan-inf", "no-params"],
)
def test_architecture_gradient_flow(norms: list[float], fraction: float) -> None:
    params = {**ARCH, "predicate": "gradient_reaches_all_parameters"}
    parameters = [{"name": f"p{i}", "shape": [1], "grad_norm": n} for i, n in enumerate(norms)]
    verdict = score("architecture", params, Observation(data={"parameters": parameters}), Observation())
    assert verdict.fraction == pytest.approx(fraction)
    if 0 < fraction < 1:
        assert verdict.details["without_gradient"] == [f"p{i}" for i, n in enumerate(norms) if not (math.isfinite(n) and n > 0)]


# --- shape, param_count and forward_equivalence (a few cases each) ---------------------------------------

SHAPE_PARAMS = {"target": "PointwiseConv", "cases": [{"init": {"in_channels": 3, "out_channels": 8}, "input": [2, 3, 4, 4]}]}


@pytest.mark.parametrize(("seen", "passed"), [({"shape": [2, 8, 4, 4]}, True), ({"shape": [2, 3, 4, 4]}, False),
                                             ({"error": "RuntimeError: size mismatch"}, False)])
def test_shape_score(seen: dict[str, Any], passed: bool) -> None:
    reference = Observation(data={"cases": [{"shape": [2, 8, 4, 4]}]})
    verdict = score("shape", SHAPE_PARAMS, Observation(data={"cases": [seen]}), reference)
    assert verdict.passed is passed
    assert "PointwiseConv(in_channels=3, out_channels=8) on input (2, 3, 4, 4)" in verdict.message or passed


def test_param_count_score() -> None:
    params = {"target": "PointwiseConv", "cases": [{"init": {"in_channels": 3, "out_channels": 8, "bias": b}} for b in (True, False)]}
    reference = Observation(data={"cases": [{"trainable": 32}, {"trainable": 24}]})
    student = Observation(data={"cases": [{"trainable": 32}, {"trainable": 32}]})
    verdict = score("param_count", params, student, reference)
    assert verdict.fraction == 0.5
    assert "has 32 trainable parameters; expected 24" in verdict.message


FORWARD_PARAMS = {"target": "PointwiseConv", "weight_map": "pointwise_conv", **{k: v for k, v in SHAPE_PARAMS.items() if k == "cases"}}


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [
        ({"c0_y": np.ones((2, 8, 4, 4))}, None),
        ({"c0_y": np.ones((2, 8, 4, 4)) + 1e-3}, "differs from the reference by up to 0.001"),
        ({"c0_y": np.ones((2, 8, 4, 3))}, "the output: got shape (2, 8, 4, 3)"),
        ({}, "the output: got nothing"),
        ({"c0_y": np.full((2, 8, 4, 4), np.nan)}, "contains NaN or infinity"),
    ],
    ids=["same", "off", "shape", "missing", "nan"],
)
def test_forward_equivalence_score(arrays: dict[str, np.ndarray], needle: str | None) -> None:
    reference = Observation(data={"cases": [{"ok": True}]}, arrays={"c0_y": np.ones((2, 8, 4, 4), dtype=np.float32)})
    verdict = score("forward_equivalence", FORWARD_PARAMS, Observation(data={"cases": [{"ok": True}]}, arrays=arrays), reference)
    assert verdict.passed is (needle is None)
    if needle:
        assert needle in verdict.message


def test_compose_message() -> None:
    assert compose_message("ok", []) == "ok"
    assert compose_message("s", ["a", "b"], "h") == "s\n- a\n- b\nHint: h"
    many = compose_message("s", [str(i) for i in range(8)], limit=5)
    assert many.splitlines()[-1] == "- ... and 3 more"
    assert compose_message("s", [], "h") == "s"  # nothing wrong, not failed: no hint


def test_compose_message_failed_without_problem_lines() -> None:
    assert compose_message("s", [], "h", failed=True) == "s\nHint: h"
    assert compose_message("s", [], "", failed=True) == "s"  # no hint to give
    assert compose_message("s", ["a"], "h", failed=True) == "s\n- a\nHint: h"


# --- score_checks: run-level failures and malformed observations -----------------------------------------


def planned(id: str, kind: str = "shape", params: dict[str, Any] | None = None, points: float = 2.0,
            visibility: str = "public") -> PlannedCheck:
    module = get_kind(kind)
    return PlannedCheck(id=id, kind=kind, title=f"Title {id}", points=points, visibility=visibility, hint="",
                        params=module.Params.model_validate(params or SHAPE_PARAMS).model_dump(),
                        budget=module.Budget().model_dump(), thresholds=module.Thresholds().model_dump())


def make_plan(checks: list[PlannedCheck], not_run: list[PlannedCheck] | None = None) -> Plan:
    return Plan(assignment="conv1x1", title="1x1", profile="check", device="cpu", seed=0, cpus=1,
                limits={"submission_s": 300, "cell_s": 60, "startup_s": 60}, interface={}, datasets=[],
                checks=checks, not_run=not_run or [])


GOOD_SHAPE = Observation(data={"cases": [{"shape": [2, 8, 4, 4]}]})
OK_EXIT = Outcome(exit_code=0, signal=None, duration_s=3.0)


def artifact(status: str, data: dict[str, Any] | None = None, message: str = "") -> CheckArtifact:
    record = ObservationRecord(status=status, message=message, data=data or {}, duration_s=0.5)
    return CheckArtifact(record, Observation(data=record.data))


def test_score_checks_every_path() -> None:
    ids = ["good", "wrong", "missing", "raised", "slow", "garbage", "garbage_list", "unreadable", "never"]
    plan = make_plan([planned(i) for i in ids], not_run=[planned("hidden", visibility="hidden", points=4)])
    artifacts = RunArtifacts(finished=True, checks={
        "good": artifact("ok", GOOD_SHAPE.data),
        "wrong": artifact("ok", {"cases": [{"shape": [2, 3, 4, 4]}]}),
        "missing": artifact("missing", message="Your submission does not define `PointwiseConv`"),
        "raised": artifact("error", message="ZeroDivisionError: division by zero"),
        "slow": artifact("timeout", message="the check's time limit (60 s) was hit"),
        "garbage": artifact("ok", {"cases": "garbage"}),
        "garbage_list": artifact("ok", {"cases": [["not", "a", "dict"]]}),
        "unreadable": CheckArtifact(None, None, problem="good.npz: member name '../x.npy' is not allowed"),
        "never": CheckArtifact(None, None),
    })
    reference = {i: GOOD_SHAPE for i in ids}
    results = {r.id: r for r in score_checks(plan, artifacts, OK_EXIT, reference, {})}
    assert list(results) == [*ids, "hidden"]
    status = {i: r.status for i, r in results.items()}
    assert status == {"good": "pass", "wrong": "fail", "missing": "error", "raised": "error", "slow": "timeout",
                      "garbage": "error", "garbage_list": "error", "unreadable": "error", "never": "error",
                      "hidden": "skipped"}
    assert results["good"].points == 2.0 and results["good"].duration_s == 0.5
    assert all(results[i].points == 0.0 for i in ids if i != "good")
    assert results["missing"].message == "Your submission does not define `PointwiseConv`"
    assert results["raised"].message.startswith("Your code raised an error while the grader called it: ZeroDivisionError")
    assert results["slow"].message.startswith("Stopped: the check's time limit (60 s) was hit.")
    assert results["garbage"].message.startswith("What your code returned for this check could not be interpreted (")
    assert "could not be accepted: good.npz: member name" in results["unreadable"].message
    assert results["never"].message.startswith("This check never ran: the process exited with code 0")
    assert results["hidden"].max_points == 0.0 and "only under the 'grade' profile" in results["hidden"].message


def test_score_checks_submission_time_limit() -> None:
    plan = make_plan([planned("done"), planned("running"), planned("later")])
    artifacts = RunArtifacts(checks={"done": artifact("ok", GOOD_SHAPE.data), "running": CheckArtifact(None, None),
                                     "later": CheckArtifact(None, None)}, started=["done", "running"])
    outcome = Outcome(exit_code=None, signal=signal.SIGKILL, duration_s=300.0, limit_hit="submission")
    results = {r.id: r for r in score_checks(plan, artifacts, outcome, {i: GOOD_SHAPE for i in ("done", "running", "later")}, {})}
    assert results["done"].status == "pass"
    assert results["running"].status == "timeout" and "(300 s) while this check was running" in results["running"].message
    assert results["later"].status == "timeout" and "before this check was reached" in results["later"].message


def test_score_checks_clamps_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    module = get_kind("shape")
    monkeypatch.setattr(module, "score", lambda ctx: Verdict(1.7, "too generous"))
    (result,) = score_checks(make_plan([planned("a")]), RunArtifacts(checks={"a": artifact("ok", GOOD_SHAPE.data)}),
                             OK_EXIT, {"a": GOOD_SHAPE}, {})
    assert result.points == 2.0 and result.status == "pass"


@pytest.mark.parametrize(
    ("outcome", "needle"),
    [
        (Outcome(exit_code=None, signal=signal.SIGKILL, duration_s=1), "killed by SIGKILL (often: memory exhausted)"),
        (Outcome(exit_code=None, signal=signal.SIGSEGV, duration_s=1), "SIGSEGV (a crash in native code)"),
        (Outcome(exit_code=None, signal=200, duration_s=1), "killed by 200"),
        (Outcome(exit_code=0, signal=None, duration_s=1), "os._exit()"),
        (Outcome(exit_code=3, signal=None, duration_s=1), "exited with code 3"),
    ],
)
def test_describe_exit(outcome: Outcome, needle: str) -> None:
    assert needle in describe_exit(outcome)


def test_run_problems() -> None:
    plan = make_plan([planned("a")])
    load = LoadResult(status="error", message="SyntaxError in cell 3", cells=[
        CellResult(cell=2, type="code", first_line="import torch", status="ok"),
        CellResult(cell=3, type="code", first_line="def f(:", status="error",
                   error={"ename": "SyntaxError", "evalue": "invalid syntax", "traceback": ""}),
        CellResult(cell=4, type="code", first_line="while True: pass", status="timeout"),
        CellResult(cell=5, type="code", first_line="x", status="error"),  # no error record: nothing to say
    ])
    problems = run_problems(plan, RunArtifacts(finished=False, load=load), Outcome(exit_code=1, signal=None, duration_s=2))
    assert problems[0].startswith("The run ended before the grader finished: the process exited with code 1")
    assert problems[1] == "SyntaxError in cell 3"
    assert problems[2] == "Cell 3 (def f(:) raised SyntaxError: invalid syntax"
    assert problems[3].startswith("Cell 4 (while True: pass) hit the per-cell time limit (60 s)")
    assert len(problems) == 4


def test_run_problems_from_a_sanitised_runner_record() -> None:
    """The record as read_artifacts hands it over: sanitize_load output of what runner.json held."""
    load = sanitize_load({"status": "error", "message": "SyntaxError in cell 3", "cells": [
        {"cell": 3, "first_line": "def f(:", "status": "error", "error": {"ename": "SyntaxError", "evalue": "invalid syntax"}},
        {"cell": 4, "first_line": "while True: pass", "status": "timeout"},
        "not a dict",
        {"cell": 5, "first_line": "y", "status": "error", "error": {"ename": "ValueError", "evalue": 5}},
    ]})
    problems = run_problems(make_plan([planned("a")]), RunArtifacts(finished=True, load=load), OK_EXIT)
    assert problems == [
        "SyntaxError in cell 3",
        "Cell 3 (def f(:) raised SyntaxError: invalid syntax",
        "Cell 4 (while True: pass) hit the per-cell time limit (60 s) and was interrupted; the grader went on with the next cell.",
        "Cell 5 (y) raised ValueError: 5",
    ]


def test_run_problems_clean_and_submission_limit() -> None:
    plan = make_plan([planned("a")])
    assert run_problems(plan, RunArtifacts(finished=True), OK_EXIT) == []
    assert run_problems(plan, RunArtifacts(finished=True, load=LoadResult(status="ok", message="fine")), OK_EXIT) == []
    hit = Outcome(exit_code=None, signal=signal.SIGKILL, duration_s=300, limit_hit="submission")
    (problem,) = run_problems(plan, RunArtifacts(), hit)
    assert problem.startswith("The run was stopped after 300 s")
    (problem,) = run_problems(plan, RunArtifacts(finished=True), hit)  # the limit is reported, not 'ended early'
    assert problem.startswith("The run was stopped after 300 s")


def test_run_problems_not_finished() -> None:
    (problem,) = run_problems(make_plan([planned("a")]), RunArtifacts(), OK_EXIT)
    assert problem == "The run ended before the grader finished: " + describe_exit(OK_EXIT)


def test_run_problems_error_status_without_message() -> None:
    load = LoadResult(status="error", message="")
    assert run_problems(make_plan([planned("a")]), RunArtifacts(finished=True, load=load), OK_EXIT) == []


def test_run_problems_shortens_long_error_values() -> None:
    load = sanitize_load({"cells": [{"cell": 1, "first_line": "x", "status": "error",
                                     "error": {"ename": "E", "evalue": "v" * 1000}}]})
    (problem,) = run_problems(make_plan([planned("a")]), RunArtifacts(finished=True, load=load), OK_EXIT)
    assert problem == "Cell 1 (x) raised E: " + "v" * 300


@pytest.mark.parametrize(
    "raw_load",
    [{"status": "ok", "cells": 5}, {"status": "ok", "cells": "garbage"}, {"cells": {"cell": 1}}, "garbage", None, 5],
    ids=["int-cells", "str-cells", "dict-cells", "str-load", "none-load", "int-load"],
)
def test_run_problems_tolerates_malformed_runner_record(raw_load: object) -> None:
    artifacts = RunArtifacts(finished=True, load=sanitize_load(raw_load))
    assert run_problems(make_plan([planned("a")]), artifacts, OK_EXIT) == []


# --- every call raised: an error, not a fail --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cases", "expected"),
    [([{"error": "x"}, {"error": "y"}], True), ([{"error": "x"}, {"shape": [1]}], False), ([], False),
     ("garbage", False), ([["error"]], False)],
    ids=["all", "some", "none", "not-a-list", "not-dicts"],
)
def test_all_raised(cases: Any, expected: bool) -> None:
    assert all_raised(cases) is expected


@pytest.mark.parametrize(
    ("kind", "params"),
    [("shape", SHAPE_PARAMS), ("param_count", SHAPE_PARAMS), ("call_equivalence", CALL_PARAMS),
     ("forward_equivalence", FORWARD_PARAMS)],
)
def test_every_case_raising_is_an_error(kind: str, params: dict[str, Any]) -> None:
    student = Observation(data={"cases": [{"error": "RuntimeError: boom"}]})
    reference = Observation(data={"cases": [{"shape": [2, 8, 4, 4], "trainable": 32, "value": [1], "ok": True}]},
                            arrays={"c0_y": np.ones((2, 8, 4, 4))})
    verdict = score(kind, params, student, reference)
    assert verdict.fraction == 0.0 and verdict.errored
    assert "RuntimeError: boom" in verdict.message


def test_score_checks_all_raised_is_status_error() -> None:
    params2 = {**SHAPE_PARAMS, "cases": SHAPE_PARAMS["cases"] * 2}
    plan = make_plan([planned("raised"), planned("partly", params=params2)])
    artifacts = RunArtifacts(checks={
        "raised": artifact("ok", {"cases": [{"error": "RuntimeError: boom"}]}),
        "partly": artifact("ok", {"cases": [{"error": "RuntimeError: boom"}, {"shape": [2, 8, 4, 4]}]}),
    })
    reference = {"raised": GOOD_SHAPE, "partly": Observation(data={"cases": [{"shape": [2, 8, 4, 4]}] * 2})}
    results = {r.id: r for r in score_checks(plan, artifacts, OK_EXIT, reference, {})}
    assert results["raised"].status == "error" and results["raised"].points == 0.0
    assert results["partly"].status == "fail" and results["partly"].points == 1.0


@pytest.mark.parametrize(("limit", "phrase", "status"), [
    ("memory", "Stopped by the memory limit (1536 MB) before this check was reached.", "error"),
    ("processes", "Stopped by the process limit (64) before this check was reached.", "error"),
    ("disk", "Stopped by the disk limit (100 MB) before this check was reached.", "error"),
])
def test_a_limit_that_ended_the_run_is_named_in_checks_and_problems(limit: str, phrase: str, status: str) -> None:
    plan = make_plan([planned("later")])
    plan.limits.update(memory_mb=1536, max_processes=64, disk_mb=100)
    outcome = Outcome(exit_code=None, signal=signal.SIGKILL, duration_s=3.0, limit_hit=limit, limits_hit=[limit, "output"])
    result = score_checks(plan, RunArtifacts(checks={"later": CheckArtifact(None, None)}), outcome, {"later": GOOD_SHAPE}, {})[0]
    assert (result.status, result.message) == (status, phrase)
    problems = run_problems(plan, RunArtifacts(), outcome)
    assert f"the {'process' if limit == 'processes' else limit} limit" in problems[0]
    assert "the output limit" in problems[1]
