"""Kind ``call_equivalence``: a plain function returns what the reference returns on the same arguments."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from grader.checks.base import (
    Budget,
    Observation,
    ProbeContext,
    ScoreContext,
    Strict,
    Tolerance,
    Verdict,
    all_raised,
    compose_message,
)
from grader.sampling import derived_seed, resolve_cases

Budget = Budget
Thresholds = Tolerance


class Params(Strict):
    target: str
    cases: list[dict[str, Any]] = Field(min_length=1, description="{args: [...], kwargs: {...}}")
    compare: Literal["exact", "close"] = "exact"
    sequence_as: Literal["any", "tuple", "list"] = Field("any", description="require this sequence type")

    def targets(self) -> list[str]:
        return [self.target]


def to_plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able copy of a return value (tuples/lists/torch.Size -> lists, tensors -> lists)."""
    if depth > 8:
        return "<too deeply nested>"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        return to_plain(value.tolist(), depth + 1)
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value[:1000]]
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in list(value.items())[:1000]}
    return f"<{type(value).__name__}>"


def probe(ctx: ProbeContext) -> Observation:
    from grader.checks.torch_helpers import describe_exception

    fn = ctx.lookup(ctx.params.target)
    outputs = []
    for case in resolve_cases(ctx.params.cases, derived_seed(ctx.seed, ctx.check_id)):
        try:
            value = fn(*case.get("args", []), **case.get("kwargs", {}))
            outputs.append({"value": to_plain(value), "type": type(value).__name__})
        except Exception as exc:
            outputs.append({"error": describe_exception(exc)})
    return Observation(data={"cases": outputs})


def _same(a: Any, b: Any, ctx: ScoreContext) -> bool:
    if ctx.params.compare == "exact":
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, ctx) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= ctx.thresholds.atol + ctx.thresholds.rtol * abs(b)
    return a == b


def score(ctx: ScoreContext) -> Verdict:
    cases = resolve_cases(ctx.params.cases, derived_seed(ctx.seed, ctx.check_id))
    want_type = ctx.params.sequence_as
    good, problems = 0, []
    for case, seen, expected in zip(cases, ctx.student.data["cases"], ctx.reference.data["cases"], strict=True):
        args = ", ".join([*(repr(tuple(a) if isinstance(a, list) else a) for a in case.get("args", [])),
                          *(f"{k}={v!r}" for k, v in case.get("kwargs", {}).items())])
        call = f"{ctx.params.target}({args})"
        if "error" in seen:
            problems.append(f"{call} raised {seen['error']}")
        elif not _same(seen["value"], expected["value"], ctx):
            problems.append(f"{call} returned {seen['value']!r}; expected {expected['value']!r}")
        elif want_type != "any" and seen.get("type") != want_type:
            problems.append(f"{call} returned a {seen.get('type')}; the interface asks for a {want_type}")
        else:
            good += 1
    summary = f"{good} of {len(cases)} calls returned the expected value."
    return Verdict(good / len(cases), compose_message(summary, problems, ctx.hint), {"correct": good},
                   errored=all_raised(ctx.student.data["cases"]))
