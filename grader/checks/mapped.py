"""Shared by the equivalence kinds: run one case of a module loaded with the grader's weights."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from grader.checks.base import (
    Observation,
    ProbeContext,
    ScoreContext,
    Strict,
    Tolerance,
    Verdict,
    all_raised,
    compose_message,
)
from grader.sampling import derived_seed, describe_call, resolve_cases


class MappedParams(Strict):
    target: str
    weight_map: str = Field(description="a layout name from grader/checks/weight_maps.py")
    cases: list[dict[str, Any]] = Field(min_length=1, description="{init: {...}, input: [N, C, H, W]}")

    def targets(self) -> list[str]:
        return [self.target]


class Thresholds(Tolerance):
    """Tolerance for comparing with the reference (float32 arithmetic in different orders)."""


def run_cases(ctx: ProbeContext, with_gradients: bool) -> Observation:
    """For each case: load weights, run forward (and backward with a seeded upstream gradient)."""
    import torch

    from grader.checks.torch_helpers import describe_exception, randn, to_numpy
    from grader.checks.weight_maps import WeightMapError, load_canonical_weights

    factory = ctx.lookup(ctx.params.target)
    seed = derived_seed(ctx.seed, ctx.check_id)
    statuses: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for index, case in enumerate(resolve_cases(ctx.params.cases, seed)):
        case_seed = seed + 7919 * index
        try:
            module = factory(**case["init"]).to(ctx.device)
            params = load_canonical_weights(module, ctx.params.weight_map, case["init"], case_seed)
            x = randn(case["input"], case_seed).to(ctx.device).requires_grad_(with_gradients)
            with torch.set_grad_enabled(with_gradients):
                y = module(x)
            if not with_gradients:
                arrays[f"c{index}_y"] = to_numpy(y)
            elif not y.requires_grad:
                statuses.append({"wrong": "its output is not connected to the input or the weights by autograd, "
                                          "so no gradient flows back (was something detached, or built with torch.zeros?)"})
                continue
            else:
                y.backward(randn(list(y.shape), case_seed + 1).to(y.device, y.dtype))
                arrays[f"c{index}_dx"] = _grad_or_zeros(x, x.shape)
                for name, (param, canonical) in params.items():
                    arrays[f"c{index}_d{name}"] = _grad_or_zeros(param, canonical)
            statuses.append({"ok": True})
        except WeightMapError as exc:
            # A structural mismatch is a wrong answer ("fail"), unlike a crash ("error" if every case crashes).
            statuses.append({"wrong": f"the grader could not load its weights into it: {exc}"})
        except Exception as exc:
            statuses.append({"error": f"raised {describe_exception(exc)}"})
    return Observation(data={"cases": statuses}, arrays=arrays)


def _grad_or_zeros(tensor: Any, shape: Any) -> np.ndarray:
    from grader.checks.torch_helpers import to_numpy

    if tensor.grad is None:  # no gradient at all: record it as zeros, the comparison explains
        return np.zeros(tuple(shape), dtype=np.float64)
    return to_numpy(tensor.grad).reshape(tuple(shape)).astype(np.float64)


def compare_cases(ctx: ScoreContext, what: str) -> Verdict:
    """Fraction of cases whose every array matches the reference's within tolerance."""
    cases = resolve_cases(ctx.params.cases, derived_seed(ctx.seed, ctx.check_id))
    tol = ctx.thresholds
    good, problems = 0, []
    for index, (case, seen) in enumerate(zip(cases, ctx.student.data["cases"], strict=True)):
        call = f"{describe_call(ctx.params.target, case['init'])} on input {tuple(case['input'])}"
        if "error" in seen or "wrong" in seen:
            problems.append(f"{call}: {seen.get('error') or seen['wrong']}")
            continue
        mismatch = None
        for key in sorted(k for k in ctx.reference.arrays if k.startswith(f"c{index}_")):
            expected = ctx.reference.arrays[key].astype(np.float64)
            actual = ctx.student.arrays.get(key)
            label = _label(key.split("_", 1)[1])
            if actual is None or actual.shape != expected.shape:
                got = "nothing" if actual is None else f"shape {actual.shape}"
                mismatch = f"{label}: got {got}, expected shape {expected.shape}"
                break
            actual = actual.astype(np.float64)
            if not np.all(np.isfinite(actual)):
                mismatch = f"{label} contains NaN or infinity"
                break
            if not np.allclose(actual, expected, rtol=tol.rtol, atol=tol.atol):
                diff = float(np.max(np.abs(actual - expected)))
                mismatch = f"{label} differs from the reference by up to {diff:.3g}"
                break
        if mismatch:
            problems.append(f"{call}: {mismatch}")
        else:
            good += 1
    summary = f"{good} of {len(cases)} configurations match the reference's {what} (same weights and inputs)."
    return Verdict(good / len(cases), compose_message(summary, problems, ctx.hint), {"correct": good},
                   errored=all_raised(ctx.student.data["cases"]))


def _label(suffix: str) -> str:
    return {"y": "the output", "dx": "the gradient with respect to the input"}.get(
        suffix, f"the gradient with respect to the {suffix[1:]}"
    )
