"""Kind ``shape``: a module's output shape over several (random) constructor/input configurations.

``method`` picks what is called on the built module: ``forward`` (the module itself) by default, or another
method such as an autoencoder's ``encode`` / ``decode``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

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


class Params(TargetCases):
    method: str = Field("forward", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the module's method to call")


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import describe_exception, randn

    factory = ctx.lookup(ctx.params.target)
    seed = derived_seed(ctx.seed, ctx.check_id)
    outputs: list[dict[str, Any]] = []
    for index, case in enumerate(resolve_cases(ctx.params.cases, seed)):
        try:
            module = factory(**case["init"]).to(ctx.device)
            call = module if ctx.params.method == "forward" else getattr(module, ctx.params.method)
            with torch.no_grad():
                out = call(randn(case["input"], seed + index).to(ctx.device))
            outputs.append({"shape": [int(d) for d in out.shape]})
        except Exception as exc:  # a student's error is an observation, not a crash
            outputs.append({"error": describe_exception(exc)})
    return Observation(data={"cases": outputs})


def score(ctx: ScoreContext) -> Verdict:
    cases = resolve_cases(ctx.params.cases, derived_seed(ctx.seed, ctx.check_id))
    student, reference = ctx.student.data["cases"], ctx.reference.data["cases"]
    good, problems = 0, []
    for case, seen, expected in zip(cases, student, reference, strict=True):
        call = f"{describe_call(ctx.params.target, case['init'])}"
        call += f"{'' if ctx.params.method == 'forward' else '.' + ctx.params.method} on input {tuple(case['input'])}"
        if "error" in seen:
            problems.append(f"{call} raised {seen['error']}")
        elif list(seen["shape"]) == expected["shape"]:
            good += 1
        else:
            problems.append(f"{call} returned shape {tuple(seen['shape'])}; expected {tuple(expected['shape'])}")
    total = len(cases)
    summary = f"{good} of {total} configurations gave the expected output shape."
    return Verdict(good / total, compose_message(summary, problems, ctx.hint), {"cases": total, "correct": good},
                   errored=all_raised(ctx.student.data["cases"]))

