"""The ``metrics_function`` kind: the trusted numpy metrics equal scikit-learn; probe + score on plain functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from grader.checks import get_kind
from grader.checks.base import Budget, Observation, ProbeContext, Verdict
from grader.checks.metrics_function import SPECIAL, Params, macro_scores, metric_cases

from .test_scoring_units import context


def sklearn_scores(y_true: Any, y_pred: Any, num_classes: int) -> dict[str, Any]:
    labels = list(range(num_classes))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    return {"accuracy": accuracy_score(y_true, y_pred), "precision": p, "recall": r, "f1": f,
            "confusion_matrix": sk_confusion_matrix(y_true, y_pred, labels=labels)}


def assert_same(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key in ("accuracy", "precision", "recall", "f1"):
        assert mine[key] == pytest.approx(theirs[key], abs=1e-12), key
    assert np.array_equal(mine["confusion_matrix"], theirs["confusion_matrix"])


def random_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    classes = int(rng.integers(2, 13))
    n = int(rng.integers(1, 60))
    pool_true = rng.choice(classes, size=int(rng.integers(1, classes + 1)), replace=False)  # often classes absent
    pool_pred = rng.choice(classes, size=int(rng.integers(1, classes + 1)), replace=False)
    y_true = pool_true[rng.integers(0, len(pool_true), n)]
    y_pred = np.where(rng.random(n) < 0.5, y_true, pool_pred[rng.integers(0, len(pool_pred), n)])
    return y_true, y_pred, classes


def test_macro_scores_equal_sklearn_on_random_cases() -> None:
    rng = np.random.default_rng(0)
    absent_both = 0
    for _ in range(300):
        y_true, y_pred, classes = random_case(rng)
        absent_both += len(set(range(classes)) - set(y_true) - set(y_pred)) > 0
        assert_same(macro_scores(y_true, y_pred, classes), sklearn_scores(y_true, y_pred, classes))
    assert absent_both > 75  # classes absent from both y_true and y_pred still count as 0 in sklearn's average


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_macro_scores_equal_sklearn_on_the_check_cases(seed: int) -> None:
    for case in metric_cases(seed, 60, 10):
        assert_same(macro_scores(case["y_true"], case["y_pred"], 10), sklearn_scores(case["y_true"], case["y_pred"], 10))


def test_metric_cases_are_deterministic_and_cover_the_special_cases() -> None:
    cases = metric_cases(5, 24, 10)
    again = metric_cases(5, 24, 10)
    assert all(np.array_equal(a["y_true"], b["y_true"]) and np.array_equal(a["y_pred"], b["y_pred"])
               for a, b in zip(cases, again, strict=True))
    assert [c["label"] for c in cases[: len(SPECIAL)]] == list(SPECIAL)
    assert {c["as"] for c in cases} == {"numpy", "list", "torch"}
    assert all(1 <= len(c["y_true"]) <= 300 and len(c["y_true"]) == len(c["y_pred"]) for c in cases)
    by_label = {c["label"]: c for c in cases}
    assert np.array_equal(by_label["perfect predictions"]["y_true"], by_label["perfect predictions"]["y_pred"])
    assert len(set(by_label["one class predicted for every example"]["y_pred"])) == 1
    assert len(by_label["a single example"]["y_true"]) == 1
    assert len(set(by_label["classes absent from y_true"]["y_true"])) <= 5
    assert len(set(by_label["classes absent from y_pred"]["y_pred"])) <= 5
    both = by_label["classes absent from both"]
    assert len(set(both["y_true"]) | set(both["y_pred"])) <= 5
    imbalanced = by_label["heavily imbalanced labels"]["y_true"]
    assert np.bincount(imbalanced).max() > 0.75 * len(imbalanced) and len(imbalanced) >= 50


# --- students' compute_metrics ----------------------------------------------------------------------------------

def as_numpy(values: Any) -> np.ndarray:
    return values.numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def correct(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
    """A torch implementation, returning tensors (the probe converts them)."""
    t, p = torch.as_tensor(as_numpy(y_true)), torch.as_tensor(as_numpy(y_pred))
    cm = torch.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)
    tp = cm.diag().double()
    precision = torch.where(cm.sum(0) > 0, tp / cm.sum(0).clamp(min=1), torch.zeros(()))
    recall = torch.where(cm.sum(1) > 0, tp / cm.sum(1).clamp(min=1), torch.zeros(()))
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), torch.zeros(()))
    return {"accuracy": (t == p).double().mean(), "precision": precision.mean(), "recall": recall.mean(),
            "f1": f1.mean(), "confusion_matrix": cm}


def micro(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
    scores = correct(y_true, y_pred, num_classes)
    return {**scores, "precision": scores["accuracy"], "recall": scores["accuracy"], "f1": scores["accuracy"]}


def transposed(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
    scores = correct(y_true, y_pred, num_classes)
    return {**scores, "confusion_matrix": scores["confusion_matrix"].T.tolist()}


def present_only(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
    """sklearn without labels=: averages over the classes present in y_true or y_pred only."""
    t, p = as_numpy(y_true), as_numpy(y_pred)
    present = np.union1d(t, p)
    scores = precision_recall_fscore_support(t, p, labels=present, average="macro", zero_division=0)
    return {**correct(y_true, y_pred, num_classes), "precision": scores[0], "recall": scores[1], "f1": scores[2]}


def judge(fn: Callable[..., Any], tmp_path: Path, cases: int = 24, **thresholds: Any) -> Verdict:
    module, params = get_kind("metrics_function"), {"target": "compute_metrics", "cases": cases}
    ctx = ProbeContext(check_id="c", namespace={"compute_metrics": fn}, interface={}, params=Params.model_validate(params),
                       budget=Budget(), seed=0, device="cpu", data_dir=tmp_path, shared={})
    seen = module.probe(ctx)
    student = Observation(data=json.loads(json.dumps(seen.data, allow_nan=True)))
    return module.score(context("metrics_function", params, student, Observation(), thresholds=thresholds,
                                hint="Average the per-class values."))


def test_a_correct_implementation_passes(tmp_path: Path) -> None:
    verdict = judge(correct, tmp_path)
    assert verdict.passed and not verdict.errored, verdict.message
    assert verdict.details["per_key"] == dict.fromkeys(("accuracy", "precision", "recall", "f1", "confusion_matrix"), 24)
    assert "Hint" not in verdict.message


def test_sklearn_itself_passes_with_lists_and_numpy(tmp_path: Path) -> None:
    def with_sklearn(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
        scores = sklearn_scores(as_numpy(y_true), as_numpy(y_pred), num_classes)
        return {**scores, "confusion_matrix": scores["confusion_matrix"].tolist()}

    assert judge(with_sklearn, tmp_path).passed


def test_micro_averages_are_named(tmp_path: Path) -> None:
    verdict = judge(micro, tmp_path)
    assert not verdict.passed and verdict.details["per_key"]["accuracy"] == 24
    assert "these are micro averages" in verdict.message and verdict.details["mistakes"]["precision"] == ["micro"]
    assert "For example compute_metrics(" in verdict.message
    assert verdict.message.endswith("Hint: Average the per-class values.")


def test_a_transposed_confusion_matrix_is_named(tmp_path: Path) -> None:
    verdict = judge(transposed, tmp_path)
    assert not verdict.passed and verdict.details["per_key"]["precision"] == 24
    assert "rows and columns are swapped: rows must be the true class" in verdict.message
    assert 0 < verdict.fraction < 1  # perfect predictions give a symmetric matrix


def test_averaging_only_present_classes_is_named(tmp_path: Path) -> None:
    verdict = judge(present_only, tmp_path)
    assert not verdict.passed and 0 < verdict.fraction < 1
    assert "absent classes must count as 0 (zero_division=0) and still be averaged" in verdict.message


def test_percentages_are_named(tmp_path: Path) -> None:
    def percent(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
        return {k: v * 100 if k != "confusion_matrix" else v for k, v in correct(y_true, y_pred, num_classes).items()}

    verdict = judge(percent, tmp_path)
    assert verdict.fraction == 0 and "this is a percentage" in verdict.message
    assert verdict.details["mistakes"]["accuracy"] == ["percent"]


def test_a_raising_function_is_an_error(tmp_path: Path) -> None:
    def broken(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
        raise ValueError("cannot")

    verdict = judge(broken, tmp_path)
    assert verdict.errored and verdict.fraction == 0 and "raised ValueError: cannot" in verdict.message


def test_failing_on_lists_only_is_a_fail(tmp_path: Path) -> None:
    def numpy_only(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
        return correct(y_true.tolist() if isinstance(y_true, np.ndarray) else y_true.shape, y_pred, num_classes)

    verdict = judge(numpy_only, tmp_path)
    assert not verdict.errored and 0 < verdict.fraction < 1 and "calls gave no dict to judge" in verdict.message


@pytest.mark.parametrize("change, expected", [
    ({"f1": None}, "f1 is None, not a number"),
    ({"precision": "0.5"}, "precision is '0.5', not a number"),
    ({"recall": float("nan")}, "recall is nan"),
    ({"accuracy": torch.tensor([0.5, 0.5])}, "accuracy is of type Tensor with shape (2,), not one number"),
    ({"accuracy": np.inf}, "accuracy is inf"),
    ({"confusion_matrix": [[1, 2], [3]]}, "confusion_matrix is of type list"),
    ({"confusion_matrix": np.zeros((9, 10))}, "confusion_matrix is 9 x 10; expected 10 x 10"),
    ({"confusion_matrix": np.full((10, 10), np.nan)}, "confusion_matrix holds NaN"),
    ({"confusion_matrix": "matrix"}, "confusion_matrix is 'matrix'"),
    ({"confusion_matrix": np.zeros(10)}, "confusion_matrix has shape (10,), not (num_classes, num_classes)"),
    ({"f1": object()}, "f1 is of type object holding object, not numbers"),
])
def test_malformed_values_fail_clearly(change: dict[str, Any], expected: str, tmp_path: Path) -> None:
    def malformed(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
        return {**correct(y_true, y_pred, num_classes), **change}

    verdict = judge(malformed, tmp_path, cases=6)
    assert verdict.fraction == 0 and not verdict.errored
    assert expected in verdict.message, verdict.message


def test_missing_keys_and_wrong_return_types(tmp_path: Path) -> None:
    def renamed(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
        scores = correct(y_true, y_pred, num_classes)
        scores["f1_score"] = scores.pop("f1")
        return scores

    verdict = judge(renamed, tmp_path, cases=4)
    assert verdict.fraction == 0 and "has no key 'f1' (its keys: accuracy, precision, recall, confusion_matrix, f1_score)" \
        in verdict.message
    assert verdict.details["per_key"]["precision"] == 4
    verdict = judge(lambda y_true, y_pred, num_classes=10: (1.0, 1.0), tmp_path, cases=3)
    assert verdict.fraction == 0 and not verdict.errored and "returned a tuple, not a dict" in verdict.message


@pytest.mark.parametrize("data", [{}, {"cases": "x"}, {"cases": [None, 3, {"keys": "x"}, {"keys": [], "f1": {"a": 1}}]},
                                  {"cases": [{"keys": [], **dict.fromkeys(("accuracy", "precision", "recall", "f1",
                                                                           "confusion_matrix"), [1, "a"])}] * 5}])
def test_malformed_observations_never_raise(data: dict[str, Any]) -> None:
    verdict = get_kind("metrics_function").score(context("metrics_function", {"target": "compute_metrics", "cases": 5},
                                                         Observation(data=data), Observation()))
    assert verdict.fraction == 0 and not verdict.errored


def test_tolerance_is_a_threshold(tmp_path: Path) -> None:
    def rounded(y_true: Any, y_pred: Any, num_classes: int = 10) -> dict[str, Any]:
        return {k: (round(float(v), 3) if k != "confusion_matrix" else v) for k, v in correct(y_true, y_pred).items()}

    assert not judge(rounded, tmp_path, cases=8).passed
    assert judge(rounded, tmp_path, cases=8, atol=1e-3).passed
