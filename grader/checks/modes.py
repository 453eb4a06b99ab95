"""Kind ``modes``: how a model behaves in train mode and in eval mode (dropout, batch normalization).

The probe builds ``target(**init)`` and runs the same input through it several times, in each mode, and
reports only measurements: how much outputs differed between passes, whether one example's output depended
on the rest of the batch, which dropout / batch-norm layers ran and with which ``p``, and what ran right
before the last linear layer. The behaviours are judged here:

    dropout         dropout layers ran (with p = dropout_p if given); train-mode passes differ; eval-mode passes agree
    deterministic   no dropout is active: two train-mode passes give the same output
    batchnorm       batch-norm layers ran; in train mode an example's output depends on the batch (batch statistics),
                    in eval mode it does not (running statistics)

Passes whose difference should only come from batch statistics reseed the random generator first, so a
dropout layer draws the same mask in both and cannot be mistaken for batch normalization.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import (
    Budget,
    NoThresholds,
    Observation,
    ProbeContext,
    ScoreContext,
    Strict,
    Verdict,
)
from grader.sampling import describe_call

Budget = Budget
Thresholds = NoThresholds
TOLERANCE = 1e-5  # relative to the output's scale: float32 noise of identical computations stays far below it


class Params(Strict):
    target: str = Field(description="the model factory")
    init: dict[str, Any] = Field(default_factory=dict)
    input: list[int] = Field(min_length=2, description="input shape; the batch must have at least 2 examples")
    behaviour: Literal["dropout", "deterministic", "batchnorm"]
    dropout_p: float | None = Field(None, ge=0, le=1, description="dropout: the p the layer must have")
    before_last_linear: bool = Field(False, description="dropout: a dropout layer runs right before the last Linear")

    def targets(self) -> list[str]:
        return [self.target]


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import randn
    from grader.sampling import derived_seed

    seed = derived_seed(ctx.seed, ctx.check_id)
    torch.manual_seed(seed)
    model = ctx.lookup(ctx.params.target)(**ctx.params.init).to(ctx.device)
    layers, calls, hooks = [], [0], []
    for path, module in model.named_modules():
        entry = {"path": path or "(model)", "type": type(module).__name__}
        if isinstance(getattr(module, "p", None), float):
            entry["p"] = float(module.p)
        layers.append(entry)
        if not any(True for _ in module.children()):  # leaf layers: their call order is the data flow
            hooks.append(module.register_forward_hook(_order(entry, calls)))
    x = randn(ctx.params.input, seed).to(ctx.device)
    other = x.clone()
    other[1:] = randn([x.shape[0] - 1, *x.shape[1:]], seed + 1).to(ctx.device)  # same first example, new batch mates

    def run(inputs: Any, train: bool, reseed: int | None = None) -> Any:
        model.train(train)
        if reseed is not None:
            torch.manual_seed(reseed)
        with torch.no_grad():
            return model(inputs).float()

    first = run(x, True, seed)
    for hook in hooks:
        hook.remove()
    scale = float(first.abs().max()) + 1.0
    diffs = {
        "train_repeat": float((run(x, True) - run(x, True)).abs().max()) / scale,
        "train_batch": float((run(x, True, seed)[0] - run(other, True, seed)[0]).abs().max()) / scale,
        "eval_repeat": float((run(x, False) - run(x, False)).abs().max()) / scale,
        "eval_batch": float((run(x, False, seed)[0] - run(other, False, seed)[0]).abs().max()) / scale,
    }
    return Observation(data={"layers": layers, "diffs": diffs, "output_shape": list(first.shape)})


def _order(entry: dict[str, Any], calls: list[int]) -> Any:
    def hook(module: Any, inputs: Any, output: Any) -> None:
        if "call" not in entry:
            entry["call"] = calls[0]
            calls[0] += 1

    return hook


def score(ctx: ScoreContext) -> Verdict:
    data = ctx.student.data
    diffs = {k: float(v) for k, v in data["diffs"].items()}
    ran = sorted((m for m in data["layers"] if isinstance(m.get("call"), int)), key=lambda m: m["call"])
    call = describe_call(ctx.params.target, ctx.params.init)
    bars = {"dropout": _dropout, "deterministic": _deterministic, "batchnorm": _batchnorm}[ctx.params.behaviour](
        ctx, ran, diffs)
    met = sum(ok for _, ok in bars)
    lines = [f"{call}: {met} of {len(bars)} requirements met.", *(f"- {'ok' if ok else 'NOT met'}: {t}" for t, ok in bars)]
    if met < len(bars) and ctx.hint:
        lines.append(f"Hint: {ctx.hint}")
    return Verdict(met / len(bars), "\n".join(lines), {"diffs": diffs})


def _changed(value: float) -> bool:
    return value > TOLERANCE


def _dropout(ctx: ScoreContext, ran: list[dict[str, Any]], diffs: dict[str, float]) -> list[tuple[str, bool]]:
    drops = [m for m in ran if "Dropout" in str(m.get("type")) and isinstance(m.get("p"), (int, float))]
    want = ctx.params.dropout_p
    found = ", ".join(f"{m['path']} ({m['type']}, p={m['p']:g})" for m in drops) or "none"
    bars = [(f"dropout layers that ran: {found}" + ("" if want is None else f"; needed one with p={want:g}"),
             bool(drops) and (want is None or any(abs(m["p"] - want) < 1e-9 for m in drops)))]
    if ctx.params.before_last_linear:
        linears = [i for i, m in enumerate(ran) if m.get("type") == "Linear"]
        before = ran[linears[-1] - 1] if linears and linears[-1] > 0 else None
        shown = "nothing" if before is None else f"{before['path']} ({before['type']})"
        bars.append((f"right before the last linear layer ran {shown}",
                     before is not None and "Dropout" in str(before.get("type"))
                     and (want is None or abs(float(before.get("p", -1)) - want) < 1e-9)))
    bars.append((f"train mode: two passes over the same batch {'differ' if _changed(diffs['train_repeat']) else 'are identical'}"
                 " (dropout must be random while training)", _changed(diffs["train_repeat"])))
    bars.append((f"eval mode: two passes {'differ' if _changed(diffs['eval_repeat']) else 'agree'}"
                 " (dropout must be off in eval mode)", not _changed(diffs["eval_repeat"])))
    return bars


def _deterministic(ctx: ScoreContext, ran: list[dict[str, Any]], diffs: dict[str, float]) -> list[tuple[str, bool]]:
    active = [f"{m['path']} (p={m['p']:g})" for m in ran if "Dropout" in str(m.get("type")) and float(m.get("p", 0)) > 0]
    return [(f"train mode: two passes over the same batch {'differ' if _changed(diffs['train_repeat']) else 'agree'}"
             + (f"; active dropout layers: {', '.join(active)}" if active else ""),
             not _changed(diffs["train_repeat"]) and not active)]


def _batchnorm(ctx: ScoreContext, ran: list[dict[str, Any]], diffs: dict[str, float]) -> list[tuple[str, bool]]:
    norms = [m["path"] for m in ran if str(m.get("type")).startswith("BatchNorm")]
    return [
        (f"batch-norm layers that ran: {', '.join(norms[:6]) or 'none'}", bool(norms)),
        ("train mode: an example's output " + ("depends" if _changed(diffs["train_batch"]) else "does not depend")
         + " on the other examples of its batch (batch statistics)", _changed(diffs["train_batch"])),
        ("eval mode: an example's output " + ("depends" if _changed(diffs["eval_batch"]) else "does not depend")
         + " on the other examples of its batch (running statistics)", not _changed(diffs["eval_batch"])),
    ]
