"""Kind ``optimizer``: ``make_optimizer(model, regularized)`` holds the right parameters with the right weight decay.

The probe builds each model the spec names (``models: {regularized: build_regularized, baseline: build_baseline}``),
calls ``target(model, regularized=<True for the "regularized" entry, else False>)`` and records, for every trainable
parameter, its name, number of dimensions and the weight decay of the parameter group holding it (None when no
group holds it). Judged here: every trainable parameter is in the optimizer; with ``regularized=True`` every weight
matrix or kernel (ndim > 1) has weight decay > 0 (biases and norm layers may be exempt, a common practice); with
``regularized=False`` no group has weight decay.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from grader.checks.base import Budget, NoThresholds, Observation, ProbeContext, ScoreContext, Strict, Verdict

Budget = Budget
Thresholds = NoThresholds


class Params(Strict):
    target: str = Field(description="e.g. make_optimizer")
    models: dict[str, str] = Field(min_length=1, description="'regularized' / 'baseline' -> model factory")
    init: dict[str, Any] = Field(default_factory=dict)

    def targets(self) -> list[str]:
        return [self.target, *self.models.values()]


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import describe_exception

    runs: dict[str, Any] = {}
    for label, factory in ctx.params.models.items():
        try:
            model = ctx.lookup(factory)(**ctx.params.init)
            optimizer = ctx.lookup(ctx.params.target)(model, regularized=label == "regularized")
        except Exception as exc:
            runs[label] = {"error": describe_exception(exc)}
            continue
        if not isinstance(optimizer, torch.optim.Optimizer):
            runs[label] = {"error": f"it returned a {type(optimizer).__name__}, not a torch.optim.Optimizer"}
            continue
        decay: dict[int, float] = {}
        for group in optimizer.param_groups:
            for p in group.get("params", []):
                decay[id(p)] = float(group.get("weight_decay", 0.0) or 0.0)
        runs[label] = {"optimizer": type(optimizer).__name__, "parameters": [
            {"name": name, "ndim": p.dim(), "weight_decay": decay.get(id(p))}
            for name, p in model.named_parameters() if p.requires_grad]}
    return Observation(data={"runs": runs})


def score(ctx: ScoreContext) -> Verdict:
    runs = ctx.student.data["runs"]
    bars: list[tuple[str, bool]] = []
    for label, run in runs.items():
        call = f"{ctx.params.target}({ctx.params.models.get(label, label)}(), regularized={label == 'regularized'})"
        if "error" in run:
            bars.append((f"{call} raised or returned something else: {run['error']}", False))
            continue
        params = run["parameters"]
        missing = [p["name"] for p in params if p["weight_decay"] is None]
        held = f"{len(params) - len(missing)} of {len(params)} trainable parameters are in the {run['optimizer']}"
        bars.append((held + (f" (missing: {', '.join(missing[:4])})" if missing else ""), not missing))
        if label == "regularized":
            bare = [p["name"] for p in params if p["ndim"] > 1 and not (p["weight_decay"] or 0) > 0]
            decays = sorted({p["weight_decay"] for p in params if p["weight_decay"]})
            bars.append((f"{call}: weight decay {', '.join(f'{d:g}' for d in decays) or 'none'}"
                         + (f"; weights without it: {', '.join(bare[:4])}" if bare else " on every weight"), not bare))
        else:
            decayed = [p["name"] for p in params if (p["weight_decay"] or 0) > 0]
            bars.append((f"{call}: " + (f"weight decay on {len(decayed)} parameters (the baseline must have none; "
                                        "note AdamW's default weight_decay is 0.01)" if decayed else "no weight decay"),
                         not decayed))
    met = sum(ok for _, ok in bars)
    errored = all("error" in run for run in runs.values())
    lines = [f"{met} of {len(bars)} requirements met.", *(f"- {'ok' if ok else 'NOT met'}: {t}" for t, ok in bars)]
    if met < len(bars) and ctx.hint:
        lines.append(f"Hint: {ctx.hint}")
    return Verdict(met / max(len(bars), 1), "\n".join(lines), errored=errored)

