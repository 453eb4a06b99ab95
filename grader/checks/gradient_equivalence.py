"""Kind ``gradient_equivalence``: input and weight gradients match the reference's (same weights)."""

from __future__ import annotations

from grader.checks.base import Budget, Observation, ProbeContext, ScoreContext, Verdict
from grader.checks.mapped import MappedParams, Thresholds, compare_cases, run_cases

Budget = Budget
Params = MappedParams
Thresholds = Thresholds


def probe(ctx: ProbeContext) -> Observation:
    return run_cases(ctx, with_gradients=True)


def score(ctx: ScoreContext) -> Verdict:
    return compare_cases(ctx, "input and weight gradients")
