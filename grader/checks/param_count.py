"""Kind ``param_count``: trainable parameter counts over constructor configurations, as the reference."""

from __future__ import annotations

from typing import Any

from grader.checks.base import (
    Budget,
    NoThresholds,
    Observation,
    ProbeContext,
    ScoreContext,
    TargetCases,
    Verdict,
    all_raised,
    compose_message,
)
from grader.sampling import derived_seed, describe_call, resolve_cases

Budget = Budget
Thresholds = NoThresholds
Params = TargetCases


def probe(ctx: ProbeContext) -> Observation:
    from grader.checks.torch_helpers import describe_exception, parameter_count

    factory = ctx.lookup(ctx.params.target)
    outputs: list[dict[str, Any]] = []
    for case in resolve_cases(ctx.params.cases, derived_seed(ctx.seed, ctx.check_id)):
        try:
            module = factory(**case["init"])
            outputs.append({"trainable": parameter_count(module), "total": parameter_count(module, False)})
        except Exception as exc:
            outputs.append({"error": describe_exception(exc)})
    return Observation(data={"cases": outputs})


def score(ctx: ScoreContext) -> Verdict:
    cases = resolve_cases(ctx.params.cases, derived_seed(ctx.seed, ctx.check_id))
    good, problems = 0, []
    for case, seen, expected in zip(cases, ctx.student.data["cases"], ctx.reference.data["cases"], strict=True):
        call = describe_call(ctx.params.target, case["init"])
        if "error" in seen:
            problems.append(f"{call} raised {seen['error']}")
        elif int(seen["trainable"]) == expected["trainable"]:
            good += 1
        else:
            problems.append(f"{call} has {int(seen['trainable'])} trainable parameters; expected {expected['trainable']}")
    summary = f"{good} of {len(cases)} configurations have the expected number of trainable parameters."
    return Verdict(good / len(cases), compose_message(summary, problems, ctx.hint), {"correct": good},
                   errored=all_raised(ctx.student.data["cases"]))
