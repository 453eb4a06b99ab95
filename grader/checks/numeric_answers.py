"""Kind ``numeric_answers``: entries of an answers dict agree with the reference's within tolerance."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from grader.checks.base import (
    Budget,
    NoThresholds,
    Observation,
    ProbeContext,
    ScoreContext,
    Strict,
    Tolerance,
    Verdict,
    compose_message,
)

Budget = Budget
Thresholds = NoThresholds


class Params(Strict):
    target: str = Field(description="the dict constant, e.g. ANSWERS")
    keys: dict[str, Tolerance] = Field(min_length=1, description="answer key -> tolerance")

    def targets(self) -> list[str]:
        return [self.target]


def probe(ctx: ProbeContext) -> Observation:
    answers = ctx.lookup(ctx.params.target)
    if not isinstance(answers, dict):
        return Observation(data={"error": f"`{ctx.params.target}` is a {type(answers).__name__}, not a dict"})
    status: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for key in ctx.params.keys:
        if key not in answers:
            status[key] = "missing"
            continue
        try:
            value = answers[key]
            value = value.detach().cpu().numpy() if hasattr(value, "detach") else value
            arrays[key] = np.asarray(value, dtype=np.float64)
            status[key] = "ok"
        except (TypeError, ValueError) as exc:
            status[key] = f"not numeric ({exc})"
    return Observation(data={"keys": status}, arrays=arrays)


def score(ctx: ScoreContext) -> Verdict:
    name = ctx.params.target
    if "error" in ctx.student.data:
        return Verdict(0.0, compose_message(ctx.student.data["error"], [], ctx.hint, failed=True))
    status = ctx.student.data.get("keys", {})
    good, problems = 0, []
    for key, tol in ctx.params.keys.items():
        expected = ctx.reference.arrays[key]
        actual = ctx.student.arrays.get(key)
        if status.get(key) != "ok" or actual is None:
            problems.append(f"{name}[{key!r}] is {status.get(key, 'missing')}")
        elif actual.shape != expected.shape:
            problems.append(f"{name}[{key!r}] has shape {actual.shape}; expected shape {expected.shape}")
        elif not np.allclose(actual, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=False):
            wrong = int(np.sum(~np.isclose(actual, expected, rtol=tol.rtol, atol=tol.atol)))
            problems.append(f"{name}[{key!r}]: {wrong} of {expected.size} entries are not within tolerance")
        else:
            good += 1
    total = len(ctx.params.keys)
    summary = f"{good} of {total} answers are correct."
    return Verdict(good / total, compose_message(summary, problems, ctx.hint), {"correct": good})
