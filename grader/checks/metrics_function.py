"""Kind ``metrics_function``: ``compute_metrics(y_true, y_pred, num_classes)`` returns what scikit-learn computes.

Both sides draw the same cases (:func:`metric_cases`: numpy arrays, lists or torch tensors; perfect predictions, one
class predicted, classes absent from y_true, y_pred or both, a single example, imbalanced labels). The probe records
the returned dict as plain numbers; the trusted side computes, with numpy only (:func:`macro_scores`), accuracy,
precision / recall / F1 macro-averaged over all ``num_classes`` labels with zero_division=0, and the confusion
matrix (rows = true class), as sklearn does, and names the usual mistakes in its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from grader.checks.base import Budget, Observation, ProbeContext, ScoreContext, Strict, Verdict, all_raised
from grader.checks.base import compose_message as compose
from grader.metrics import confusion_matrix
from grader.sampling import derived_seed

Budget = Budget
KEYS = ("accuracy", "precision", "recall", "f1", "confusion_matrix")
SPECIAL = ("perfect predictions", "one class predicted for every example", "classes absent from y_true",
           "classes absent from y_pred", "classes absent from both", "a single example", "heavily imbalanced labels")
TYPES = ("numpy", "list", "torch")
MISTAKES = {
    "micro": "these are micro averages (over all examples, equal to the accuracy); macro averages the per-class values",
    "present": "absent classes must count as 0 (zero_division=0) and still be averaged over all num_classes classes",
    "weighted": "these are weighted by class size; a macro average gives every class the same weight",
    "transposed": "rows and columns are swapped: rows must be the true class, columns the predicted class",
    "percent": "this is a percentage; return a fraction between 0 and 1",
}


class Params(Strict):
    target: str
    num_classes: int = Field(10, ge=2, le=100)
    cases: int = Field(24, ge=1, le=500, description="how many random cases (the first ones are special cases)")

    def targets(self) -> list[str]:
        return [self.target]


class Thresholds(Strict):
    atol: float = Field(1e-6, ge=0, description="absolute tolerance of accuracy, precision, recall and f1")


def metric_cases(seed: int, count: int, num_classes: int) -> list[dict[str, Any]]:
    """``count`` cases ``{label, y_true, y_pred, as}``: the special cases first, then random ones (lengths 1..300)."""
    rng, classes = np.random.default_rng(seed), num_classes
    cases = []
    for i in range(count):
        label = SPECIAL[i] if i < len(SPECIAL) else "random labels"
        n = 1 if label == "a single example" else int(rng.integers(50 if label.startswith("heavily") else 1, 301))
        few = rng.choice(classes, size=int(rng.integers(1, classes // 2 + 1)), replace=False)
        y_true = rng.integers(0, classes, n)
        if label in ("classes absent from y_true", "classes absent from both"):
            y_true = few[rng.integers(0, len(few), n)]
        elif label == "heavily imbalanced labels":
            y_true = np.where(rng.random(n) < 0.9, int(rng.integers(0, classes)), y_true)
        noise = few[rng.integers(0, len(few), n)] if label.endswith(("y_pred", "both")) else rng.integers(0, classes, n)
        y_pred = np.where(rng.random(n) < rng.uniform(0.2, 0.9), y_true, noise)
        if label == "perfect predictions":
            y_pred = y_true.copy()
        elif label == "one class predicted for every example":
            y_pred = np.full(n, int(rng.integers(0, classes)))
        elif label == "classes absent from y_pred":
            y_pred = noise
        cases.append({"label": label, "y_true": y_true.astype(np.int64), "y_pred": y_pred.astype(np.int64),
                      "as": TYPES[i % len(TYPES)]})
    return cases


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall and F1 (0 where undefined, as zero_division=0) with the counts behind them."""
    tp, predicted, support = np.diag(cm).astype(float), cm.sum(axis=0).astype(float), cm.sum(axis=1).astype(float)
    zeros = np.zeros(len(cm))
    return {"precision": np.divide(tp, predicted, out=zeros.copy(), where=predicted > 0),
            "recall": np.divide(tp, support, out=zeros.copy(), where=support > 0),
            "f1": np.divide(2 * tp, predicted + support, out=zeros.copy(), where=predicted + support > 0),
            "predicted": predicted, "support": support}


def macro_scores(y_true: Any, y_pred: Any, num_classes: int) -> dict[str, Any]:
    """sklearn's accuracy_score, precision_recall_fscore_support(average="macro", labels=range(num_classes),
    zero_division=0) and confusion_matrix(labels=range(num_classes)), with numpy only."""
    cm = confusion_matrix(np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64), num_classes)
    per = per_class(cm)
    accuracy = float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0
    return {"accuracy": accuracy, **{k: float(per[k].mean()) for k in ("precision", "recall", "f1")},
            "confusion_matrix": cm}


def _argument(values: np.ndarray, kind: str) -> Any:
    if kind == "torch":
        import torch

        return torch.tensor(values, dtype=torch.int64)
    return [int(v) for v in values] if kind == "list" else values.copy()


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)


def _record(value: Any, key: str) -> Any:
    """A finite number, a matrix of numbers (None for non-finite), or ``{"problem": what it is instead}``."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        return {"problem": f"is {value!r:.40}, not a number" if key != "confusion_matrix" else f"is {value!r:.40}"}
    try:
        array = _array(value)
    except Exception:
        return {"problem": f"is of type {type(value).__name__}, not a number"}
    if array.dtype.kind not in "iuf":
        return {"problem": f"is of type {type(value).__name__} holding {array.dtype}, not numbers"}
    if key == "confusion_matrix":
        if array.ndim != 2 or max(array.shape) > 200:
            return {"problem": f"has shape {tuple(array.shape)}, not (num_classes, num_classes)"}
        cells = array.astype(np.float64)
        return [[v if np.isfinite(v) else None for v in row] for row in cells.tolist()]
    if array.size != 1:
        return {"problem": f"is of type {type(value).__name__} with shape {tuple(array.shape)}, not one number"}
    number = float(array.reshape(-1)[0])
    return number if np.isfinite(number) else {"problem": f"is {number}"}


def probe(ctx: ProbeContext) -> Observation:
    from grader.checks.torch_helpers import describe_exception

    fn, p = ctx.lookup(ctx.params.target), ctx.params
    outputs: list[dict[str, Any]] = []
    for case in metric_cases(derived_seed(ctx.seed, ctx.check_id), p.cases, p.num_classes):
        try:
            value = fn(_argument(case["y_true"], case["as"]), _argument(case["y_pred"], case["as"]),
                       num_classes=p.num_classes)
            if not isinstance(value, Mapping):
                outputs.append({"not_dict": type(value).__name__})
                continue
            outputs.append({"keys": [str(k)[:40] for k in list(value)[:20]],
                            **{k: _record(value[k], k) for k in KEYS if k in value}})
        except Exception as exc:  # a student's error is an observation, not a crash
            outputs.append({"error": describe_exception(exc)})
    return Observation(data={"cases": outputs})


# --- trusted side ----------------------------------------------------------------------------------------------

def _describe(case: dict[str, Any], ctx: ScoreContext) -> str:
    wrap = {"numpy": "np.array({})", "list": "{}", "torch": "torch.tensor({})"}[case["as"]]
    shown = [wrap.format(v.tolist() if len(v) <= 8 else f"<{len(v)} labels>") for v in (case["y_true"], case["y_pred"])]
    return f"{ctx.params.target}({shown[0]}, {shown[1]}, num_classes={ctx.params.num_classes}) ({case['label']})"


def _mistake(key: str, got: float, expected: dict[str, Any], atol: float) -> str:
    """The name of a known mistake that gives ``got`` for ``key``, or ""."""
    if abs(got - 100 * expected[key]) <= 100 * atol and expected[key] > 0:
        return "percent"
    if key == "accuracy":
        return ""
    per = per_class(expected["confusion_matrix"])
    masks = [(per["support"] > 0) | (per["predicted"] > 0), per["support"] > 0]
    masks.append(per["predicted"] > 0 if key == "precision" else masks[1] if key == "recall" else masks[0])
    candidates = {"micro": [expected["accuracy"]],
                  "present": [float(per[key][m].mean()) for m in masks if m.any()],
                  "weighted": [float((per[key] * per["support"]).sum() / max(per["support"].sum(), 1))]}
    return next((name for name, values in candidates.items() if any(abs(got - v) <= atol for v in values)), "")


def _judge(key: str, seen: Any, expected: dict[str, Any], atol: float) -> tuple[bool, str, str]:
    """(right, what came out vs. what was expected, the name of the mistake or "")."""
    want = expected[key]
    if isinstance(seen, dict):
        return False, f"{key} {str(seen.get('problem', 'could not be read'))[:200]}", ""
    if key != "confusion_matrix":
        if not isinstance(seen, (int, float)) or isinstance(seen, bool):
            return False, f"{key} could not be read", ""
        if abs(seen - want) <= atol:
            return True, "", ""
        return False, f"{key} is {seen:.6g}; expected {want:.6g}", _mistake(key, seen, expected, atol)
    rows = seen if isinstance(seen, list) and all(isinstance(r, list) for r in seen) else None
    if rows is None or any(len(r) != len(rows[0]) for r in rows) or (len(rows), len(rows[0]) if rows else 0) != want.shape:
        shape = f"{len(rows)} x {len(rows[0]) if rows else 0}" if rows is not None else "not a matrix"
        return False, f"confusion_matrix is {shape}; expected {want.shape[0]} x {want.shape[1]}", ""
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for r in rows for v in r):
        return False, "confusion_matrix holds NaN, infinite or unreadable values", ""
    got = np.asarray(rows, dtype=np.float64)
    if np.array_equal(got, want):
        return True, "", ""
    i, j = np.argwhere(got != want)[0]
    return (False, f"confusion_matrix[{i}][{j}] is {got[i, j]:g}; expected {want[i, j]}",
            "transposed" if np.array_equal(got, want.T) else "")


def score(ctx: ScoreContext) -> Verdict:
    p, raw = ctx.params, ctx.student.data.get("cases")
    raw = raw if isinstance(raw, list) else []
    cases = metric_cases(derived_seed(ctx.seed, ctx.check_id), p.cases, p.num_classes)
    passes, good = dict.fromkeys(KEYS, 0), 0
    wrong: dict[str, list[tuple[str, str]]] = {k: [] for k in KEYS}  # key -> [(what came out, mistake)]
    failures: list[str] = []
    for i, case in enumerate(cases):
        seen, call = raw[i] if i < len(raw) and isinstance(raw[i], dict) else {}, _describe(case, ctx)
        if "error" in seen or "not_dict" in seen or not isinstance(seen.get("keys"), list):
            failures.append(f"{call} raised {str(seen['error'])[:500]}" if "error" in seen else
                            f"{call} returned a {str(seen['not_dict'])[:40]}, not a dict" if "not_dict" in seen else
                            f"{call}: the grader received no readable record of what it returned")
            continue
        expected, all_right = macro_scores(case["y_true"], case["y_pred"], p.num_classes), True
        for key in KEYS:
            if key in seen:
                right, problem, mistake = _judge(key, seen[key], expected, ctx.thresholds.atol)
            else:
                right, mistake = False, ""
                problem = f"the returned dict has no key {key!r} (its keys: {', '.join(map(str, seen['keys']))})"
            passes[key] += right
            all_right &= right
            if not right:
                wrong[key].append((f"{call}: {problem}", mistake))
        good += all_right
    problems = [f"{len(failures)} of {len(cases)} calls gave no dict to judge, e.g. {failures[0]}"] if failures else []
    for key, seen_wrong in wrong.items():
        if seen_wrong:
            named = [m for _, m in seen_wrong if m]
            common = max(set(named), key=named.count) if named else ""
            why = f"; {MISTAKES[common]} ({named.count(common)} of them)" if common else ""
            example = next((e for e, m in seen_wrong if m == common), seen_wrong[0][0])
            problems.append(f"{key} is wrong in {len(seen_wrong)} of {len(cases)} cases{why}. For example {example}")
    summary = f"{good} of {len(cases)} cases match scikit-learn on all of {', '.join(KEYS)}."
    details = {"cases": len(cases), "correct": good, "per_key": passes,
               "mistakes": {k: sorted({m for _, m in w if m}) for k, w in wrong.items() if w}}
    return Verdict(good / len(cases), compose(summary, problems, ctx.hint, failed=good < len(cases)), details,
                   errored=all_raised(ctx.student.data.get("cases")))
