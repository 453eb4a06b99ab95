"""Kind ``inception_branches``: each of an Inception module's four branches contributes to its output.

The grader draws configurations whose seven channel numbers are all different, so a branch's last convolution
is recognised by its ``out_channels`` (ch1x1, ch3x3, ch5x5 or pool_proj). Inside the sandbox the probe builds
``target(in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj)``, runs a random input
through it, back-propagates the output's sum of squares and records for every convolution its out_channels,
the gradient norm of its weight, and how much the module's output changes when that convolution's output is
replaced by zeros (a forward hook). Here a branch contributes when a convolution ending it gets a gradient
and zeroing it changes the output: a branch computed but left out of the concatenation fails both.
"""

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
    Verdict,
    compose_message,
)
from grader.sampling import derived_seed, describe_call

Budget = Budget
Thresholds = NoThresholds
ARGS = ("in_channels", "ch1x1", "ch3x3_reduce", "ch3x3", "ch5x5_reduce", "ch5x5", "pool_proj")
BRANCHES = {"ch1x1": "1x1 branch", "ch3x3": "3x3 branch", "ch5x5": "5x5 branch", "pool_proj": "pool branch"}


class Params(Strict):
    target: str = Field(description="the Inception module class")
    configs: int = Field(3, ge=1, le=10)
    size: int = Field(12, ge=5, le=64, description="input height and width")

    def targets(self) -> list[str]:
        return [self.target]


def configurations(seed: int, count: int) -> list[dict[str, int]]:
    """``count`` configurations with seven distinct channel numbers (both sides draw the same ones)."""
    rng = np.random.default_rng(seed)
    return [dict(zip(ARGS, (int(v) for v in rng.choice(np.arange(3, 41), size=len(ARGS), replace=False)), strict=True))
            for _ in range(count)]


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import describe_exception, randn

    seed = derived_seed(ctx.seed, ctx.check_id)
    torch.manual_seed(seed)
    factory = ctx.lookup(ctx.params.target)
    results: list[dict[str, Any]] = []
    for index, config in enumerate(configurations(seed, ctx.params.configs)):
        try:
            results.append(_probe_one(factory, config, randn([2, config["in_channels"], ctx.params.size,
                                                                ctx.params.size], seed + index), ctx.device))
        except Exception as exc:  # a student's error is an observation
            results.append({"error": describe_exception(exc)})
    return Observation(data={"configs": results})


def _probe_one(factory: Any, config: dict[str, int], x: Any, device: str) -> dict[str, Any]:
    import torch

    module = factory(**config).to(device)
    module.eval()  # batch norm with running statistics: zeroing a branch cannot be undone by normalisation
    x = x.to(device)
    out = module(x)
    out.float().pow(2).sum().backward()
    convs = [(name, m) for name, m in module.named_modules() if isinstance(m, torch.nn.Conv2d)]
    records = []
    with torch.no_grad():
        base = module(x).float()
        for name, conv in convs:
            handle = conv.register_forward_hook(lambda _m, _i, output: torch.zeros_like(output))
            try:
                changed = float((module(x).float() - base).abs().max())
            finally:
                handle.remove()
            grad = conv.weight.grad
            records.append({"path": name, "out_channels": conv.out_channels,
                            "grad_norm": -1.0 if grad is None else float(grad.norm()), "zeroing_changes": changed})
    return {"output_shape": list(out.shape), "convs": records}


def score(ctx: ScoreContext) -> Verdict:
    seed = derived_seed(ctx.seed, ctx.check_id)
    configs = configurations(seed, ctx.params.configs)
    seen = ctx.student.data["configs"]
    good, total, problems = 0, 0, []
    for config, record in zip(configs, seen, strict=True):
        call = describe_call(ctx.params.target, config)
        if "error" in record:
            problems.append(f"{call} raised {record['error']}")
            total += len(BRANCHES)
            continue
        for arg, label in BRANCHES.items():
            total += 1
            ends = [c for c in record["convs"] if int(c["out_channels"]) == config[arg]]
            alive = [c for c in ends if float(c["grad_norm"]) > 0 and float(c["zeroing_changes"]) > 1e-7]
            if alive:
                good += 1
            elif not ends:
                problems.append(f"{call}: no convolution with {arg}={config[arg]} output channels (the {label})")
            else:
                problems.append(f"{call}: the {label} ({', '.join(c['path'] for c in ends)}) does not reach the output "
                                "(no gradient, or zeroing it changes nothing)")
    summary = f"{good} of {total} branches (4 per configuration, {len(configs)} configurations) contribute to the output."
    errored = bool(seen) and all("error" in r for r in seen)
    return Verdict(good / max(total, 1), compose_message(summary, problems, ctx.hint), {"contributing": good},
                   errored=errored)
