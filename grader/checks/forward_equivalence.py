"""Kind ``forward_equivalence``: same weights and inputs as the reference give the same outputs."""

from __future__ import annotations

from grader.checks.base import Budget, Observation, ProbeContext, ScoreContext, Verdict
from grader.checks.mapped import MappedParams, Thresholds, compare_cases, run_cases

Budget = Budget
Params = MappedParams
Thresholds = Thresholds


def probe(ctx: ProbeContext) -> Observation:
    return run_cases(ctx, with_gradients=False)


def score(ctx: ScoreContext) -> Verdict:
    return compare_cases(ctx, "outputs")
