"""Kind ``architecture``: predicates over a model's structure, judged from a summary the probe emits.

The probe builds the model, runs one forward/backward pass with hooks, and reports every module's type,
layer hyper-parameters, input/output shapes, and every parameter's gradient norm. The predicate is
evaluated here, in the trusted process.
"""

from __future__ import annotations

import math
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
    compose_message,
)
from grader.sampling import describe_call

Budget = Budget
Thresholds = NoThresholds

Predicate = Literal["output_shape", "pointwise_channel_reduction", "gradient_reaches_all_parameters",
                    "learnable_layers_only", "linear_chain", "undercomplete",
                    # grader/checks/structure.py:
                    "bottleneck_stages", "resnet50_parameter_count", "first_conv_gradient", "layer_types", "uses_class"]


class Params(Strict):
    target: str = Field(description="the model factory, e.g. build_model")
    init: dict[str, Any] = Field(default_factory=dict)
    input: list[int] = Field(min_length=2, description="input shape, e.g. [4, 3, 32, 32]")
    predicate: Predicate
    expected_output: list[int | str] = Field(default_factory=list, description="for output_shape; '$name' refers to init")
    pointwise_classes: list[str] = Field(default_factory=list, description="interface classes that count as 1x1 convs")
    allowed_layers: list[str] = Field(default_factory=list, description="for learnable_layers_only: module type names")
    expected_widths: list[int | str] = Field(default_factory=list, description="for linear_chain, e.g. [784, '$code_dim', 784]")
    expected_stages: list[int] = Field(default_factory=list, description="for bottleneck_stages, e.g. [3, 4, 6, 3]")
    min_relative_grad: float = Field(1e-3, gt=0, description="first_conv_gradient: vs the median parameter's gradient norm")
    required_layers: list[list[str]] = Field(default_factory=list, description="layer_types: one of each group must run")
    forbidden_layers: list[str] = Field(default_factory=list, description="layer_types: none of these may run")
    classes: list[str] = Field(default_factory=list, description="uses_class: interface classes, one must run")

    def targets(self) -> list[str]:
        return [self.target, *self.pointwise_classes, *self.classes]


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import randn
    from grader.sampling import derived_seed

    seed = derived_seed(ctx.seed, ctx.check_id)
    torch.manual_seed(seed)
    model = ctx.lookup(ctx.params.target)(**ctx.params.init).to(ctx.device)
    classes = tuple(c for c in (ctx.namespace.get(n) for n in ctx.params.pointwise_classes) if isinstance(c, type))
    named = [(n, c) for n, c in ((n, ctx.namespace.get(n)) for n in ctx.params.classes) if isinstance(c, type)]
    modules: list[dict[str, Any]] = []
    hooks = []
    calls = [0]  # forward hooks fire as each module finishes: for leaf layers, the order they ran in
    for path, module in model.named_modules():
        entry = {"path": path or "(model)", "type": type(module).__name__, "pointwise_class": isinstance(module, classes),
                 "learnable": any(True for _ in module.parameters(recurse=False)),
                 "params": sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad),
                 "interface_class": next((n for n, c in named if isinstance(module, c)), None)}
        if isinstance(module, torch.nn.Conv2d):
            entry.update(kernel_size=list(module.kernel_size), in_channels=module.in_channels,
                         out_channels=module.out_channels, stride=list(module.stride), groups=module.groups,
                         padding=str(module.padding), dilation=list(module.dilation))
        if isinstance(getattr(module, "p", None), float):  # dropout layers
            entry.update(p=float(module.p))
        if isinstance(module, torch.nn.Linear):
            entry.update(in_features=module.in_features, out_features=module.out_features)
        modules.append(entry)
        hooks.append(module.register_forward_hook(_shape_recorder(entry, calls)))
    model.train()
    x = randn(ctx.params.input, seed).to(ctx.device)
    out = model(x)
    for hook in hooks:
        hook.remove()
    if out.dim() == 2:
        labels = torch.randint(0, out.shape[1], (out.shape[0],), generator=torch.Generator().manual_seed(seed))
        loss = torch.nn.functional.cross_entropy(out, labels.to(out.device))
    else:
        loss = out.float().pow(2).mean()
    loss.backward()
    params = [
        {"name": name, "shape": list(p.shape), "grad_norm": -1.0 if p.grad is None else float(p.grad.norm())}
        for name, p in model.named_parameters() if p.requires_grad
    ]
    return Observation(data={"output_shape": list(out.shape), "modules": modules, "parameters": params})


def _shape_recorder(entry: dict[str, Any], calls: list[int]) -> Any:
    def hook(module: Any, inputs: Any, output: Any) -> None:
        if "call" not in entry:
            entry["call"] = calls[0]
            calls[0] += 1
        first = inputs[0] if isinstance(inputs, tuple) and inputs else inputs
        if hasattr(first, "shape") and "in_shape" not in entry:
            entry["in_shape"] = list(first.shape)
        if hasattr(output, "shape") and "out_shape" not in entry:
            entry["out_shape"] = list(output.shape)

    return hook


def score(ctx: ScoreContext) -> Verdict:
    from grader.checks import structure

    return {"output_shape": _output_shape, "pointwise_channel_reduction": _pointwise_reduction,
            "gradient_reaches_all_parameters": _gradient_flow, "learnable_layers_only": _learnable_layers_only,
            "linear_chain": _linear_chain, "undercomplete": _undercomplete, **structure.PREDICATES}[ctx.params.predicate](ctx)


def _ran(ctx: ScoreContext) -> list[dict[str, Any]]:
    """The modules that ran in the forward pass, in the order they finished."""
    return sorted((m for m in ctx.student.data["modules"] if isinstance(m.get("call"), int)), key=lambda m: m["call"])


def _learnable_layers_only(ctx: ScoreContext) -> Verdict:
    allowed = set(ctx.params.allowed_layers)
    learnable = [m for m in ctx.student.data["modules"] if m.get("learnable")]
    others = [f"{m['path']} ({m['type']})" for m in learnable if m.get("type") not in allowed]
    names = " / ".join(sorted(allowed))
    if not learnable:
        return Verdict(0.0, compose_message("The model has no layer with learnable parameters.", [], ctx.hint, failed=True))
    if not others:
        return Verdict(1.0, f"All {len(learnable)} layers with learnable parameters are {names} layers.")
    summary = f"{len(others)} of {len(learnable)} layers with learnable parameters are not {names} layers:"
    return Verdict(0.0, compose_message(summary, others, ctx.hint, failed=True), {"other_layers": others})


def _linear_chain(ctx: ScoreContext) -> Verdict:
    init = ctx.params.init
    expected = [int(init[v[1:]]) if isinstance(v, str) else int(v) for v in ctx.params.expected_widths]
    linears = [m for m in _ran(ctx) if m.get("type") == "Linear"]
    seen = [f"{int(m['in_features'])} -> {int(m['out_features'])}" for m in linears]
    want = [f"{a} -> {b}" for a, b in zip(expected[:-1], expected[1:], strict=True)]
    call = describe_call(ctx.params.target, init)
    if seen == want:
        return Verdict(1.0, f"{call} runs {len(seen)} Linear layers, {' then '.join(seen)}, as asked.")
    got = ", then ".join(seen) if seen else "no Linear layer"
    summary = (f"{call} runs {got} in its forward pass; the assignment asks for exactly {len(want)} Linear layers: "
               f"{', then '.join(want)} (widths {' -> '.join(map(str, expected))}).")
    return Verdict(0.0, compose_message(summary, [], ctx.hint, failed=True), {"linear_layers": seen})


def _undercomplete(ctx: ScoreContext) -> Verdict:
    width_in = math.prod(int(d) for d in ctx.params.input[1:])
    widths = [(math.prod(int(d) for d in m["out_shape"][1:]), m) for m in _ran(ctx)
              if m.get("learnable") and isinstance(m.get("out_shape"), list) and len(m["out_shape"]) >= 2]
    if not widths:
        return Verdict(0.0, compose_message("No layer with learnable parameters ran in the forward pass.", [], ctx.hint,
                                            failed=True))
    narrowest, layer = min(widths, key=lambda w: w[0])
    where = f"{layer['path']} ({layer['type']}) outputs {narrowest} values per example"
    if narrowest < width_in:
        return Verdict(1.0, f"Undercomplete: the narrowest layer, {where}, fewer than the {width_in} input values.")
    summary = (f"Not undercomplete: the narrowest layer, {where}, no fewer than the {width_in} input values, so the "
               "network can learn to copy its input instead of a compressed code.")
    return Verdict(0.0, compose_message(summary, [], ctx.hint, failed=True), {"narrowest": narrowest})


def _output_shape(ctx: ScoreContext) -> Verdict:
    init = ctx.params.init
    expected = [int(init[v[1:]]) if isinstance(v, str) else int(v) for v in ctx.params.expected_output]
    seen = [int(d) for d in ctx.student.data["output_shape"]]
    call = f"{describe_call(ctx.params.target, init)} on input {tuple(ctx.params.input)}"
    if seen == expected:
        return Verdict(1.0, f"{call} returns shape {tuple(seen)} as expected.")
    return Verdict(0.0, compose_message(f"{call} returned shape {tuple(seen)}; expected {tuple(expected)}.", [], ctx.hint, failed=True))


def _pointwise_reduction(ctx: ScoreContext) -> Verdict:
    found = []
    for m in ctx.student.data["modules"]:
        ins, outs = m.get("in_shape"), m.get("out_shape")
        is_conv1x1 = m.get("type") == "Conv2d" and list(m.get("kernel_size", [])) == [1, 1]
        if is_conv1x1 and int(m["out_channels"]) < int(m["in_channels"]):
            found.append(f"layer {m['path']} (Conv2d {m['in_channels']} -> {m['out_channels']}, 1x1)")
        elif m.get("pointwise_class") and ins and outs and len(ins) == 4 and len(outs) == 4 \
                and outs[1] < ins[1] and ins[2:] == outs[2:]:
            found.append(f"layer {m['path']} ({m['type']} {ins[1]} -> {outs[1]} channels)")
    if found:
        return Verdict(1.0, f"Found a channel-reducing 1x1 convolution: {found[0]}.")
    msg = ("No 1x1 convolution that reduces the number of channels was used in the forward pass "
           "(looked for nn.Conv2d with kernel_size=1 and out_channels < in_channels, or your PointwiseConv).")
    return Verdict(0.0, compose_message(msg, [], ctx.hint, failed=True))


def _gradient_flow(ctx: ScoreContext) -> Verdict:
    params = ctx.student.data["parameters"]
    if not params:
        return Verdict(0.0, "The model has no trainable parameters.")
    dead = [p["name"] for p in params if not (math.isfinite(float(p["grad_norm"])) and float(p["grad_norm"]) > 0)]
    alive = len(params) - len(dead)
    summary = f"{alive} of {len(params)} trainable parameters received a non-zero, finite gradient."
    problems = [f"{name}: no gradient (unused in forward, detached, or frozen by mistake?)" for name in dead]
    return Verdict(alive / len(params), compose_message(summary, problems, ctx.hint), {"without_gradient": dead})
