"""Structural predicates of the ``architecture`` kind for the CIFAR-10 assignments (trusted side only).

They read the module summary the architecture probe emits (type, conv hyper-parameters, call order, own
parameter count of every module, gradient norm of every parameter) and never the student's objects:

    bottleneck_stages          ResNet bottleneck blocks (1x1 -> 3x3 -> 1x1, 4x expansion) grouped into stages
    resnet50_parameter_count   ResNet-50's count, with the stem and the classifier accounted for
    first_conv_gradient        the first convolution's gradient is not negligible next to the others'
    layer_types                required groups of layer types ran, forbidden ones did not
    uses_class                 an instance of an interface class (e.g. InceptionModule) ran
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Callable

from grader.checks.base import ScoreContext, Verdict, compose_message

# torchvision's resnet50(num_classes=10): 23,528,522 = 9,408 (7x7 stem conv) + 20,490 (fc) + the rest below.
RESNET50_BODY = 23_498_624
RESNET50_FEATURES = 2048


def _modules(ctx: ScoreContext) -> list[dict[str, Any]]:
    return [m for m in ctx.student.data["modules"] if isinstance(m, dict)]


def _ran(ctx: ScoreContext) -> list[dict[str, Any]]:
    return sorted((m for m in _modules(ctx) if isinstance(m.get("call"), int)), key=lambda m: m["call"])


def _kernel(m: dict[str, Any]) -> int:
    return int(m.get("kernel_size", [0])[0])


def describe_stem(ctx: ScoreContext) -> str:
    """Which stem the model uses, from its first convolution and whether a max-pool runs before the blocks."""
    ran = _ran(ctx)
    convs = [m for m in ran if m.get("type") == "Conv2d"]
    if not convs:
        return "no convolution ran"
    first = convs[0]
    k, stride = _kernel(first), int(first.get("stride", [1])[0])
    second_conv = convs[1]["call"] if len(convs) > 1 else math.inf
    pooled = any(m.get("type") in ("MaxPool2d", "AvgPool2d") and m["call"] < second_conv for m in ran)
    if k == 7 and stride == 2 and pooled:
        return "ImageNet stem (7x7 stride-2 convolution, then a 3x3 max-pool)"
    if k == 3 and stride == 1 and not pooled:
        return "CIFAR stem (3x3 stride-1 convolution, no max-pool)"
    return f"custom stem ({k}x{k} stride-{stride} convolution{', then pooling' if pooled else ', no pooling'})"


def find_bottlenecks(ctx: ScoreContext) -> list[dict[str, Any]]:
    """Outermost modules holding a 1x1 -> 3x3 -> 1x1 convolution chain (plus an optional 1x1 shortcut), in call order."""
    convs = [m for m in _ran(ctx) if m.get("type") == "Conv2d"]
    blocks: list[dict[str, Any]] = []
    for module in _modules(ctx):
        path = str(module.get("path", ""))
        if module.get("type") == "Conv2d" or path == "(model)":
            continue
        inner = [c for c in convs if str(c.get("path", "")).startswith(path + ".")]
        chain = _bottleneck_chain(inner)
        if chain is None:
            continue
        width, out = int(chain[0]["out_channels"]), int(chain[2]["out_channels"])
        blocks.append({"path": path, "call": chain[0]["call"], "width": width, "out_channels": out,
                       "expansion": out / width if width else 0.0})
    outermost = [b for b in blocks if not any(b["path"].startswith(o["path"] + ".") for o in blocks if o is not b)]
    return sorted(outermost, key=lambda b: b["call"])


def _bottleneck_chain(convs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The 1x1 -> 3x3 -> 1x1 chain among a block's 3 convolutions, or 4 with a 1x1 projection shortcut."""
    def chained(chain: list[dict[str, Any]]) -> bool:
        return ([_kernel(c) for c in chain] == [1, 3, 1] and int(chain[0]["out_channels"]) == int(chain[1]["in_channels"])
                and int(chain[1]["out_channels"]) == int(chain[2]["in_channels"]))

    ordered = sorted(convs, key=lambda c: c["call"])
    if len(ordered) == 3:
        return ordered if chained(ordered) else None
    if len(ordered) != 4:
        return None
    for skip in ordered:
        chain = [c for c in ordered if c is not skip]
        if chained(chain) and _kernel(skip) == 1 and int(skip["in_channels"]) == int(chain[0]["in_channels"]) \
                and int(skip["out_channels"]) == int(chain[2]["out_channels"]):
            return chain
    return None


def _bottleneck_stages(ctx: ScoreContext) -> Verdict:
    blocks = find_bottlenecks(ctx)
    stages: list[list[dict[str, Any]]] = []
    for block in blocks:
        if stages and stages[-1][-1]["out_channels"] == block["out_channels"]:
            stages[-1].append(block)
        else:
            stages.append([block])
    counts = [len(s) for s in stages]
    widths = [s[0]["out_channels"] for s in stages]
    expected = list(ctx.params.expected_stages)
    stem = describe_stem(ctx)
    details = {"stages": counts, "stage_widths": widths, "stem": stem}
    odd = [f"{b['path']}: {b['width']} -> {b['out_channels']} channels (expansion {b['expansion']:g}, expected 4)"
           for b in blocks if abs(b["expansion"] - 4) > 1e-9]
    layout = " + ".join(f"{c} x {w}" for c, w in zip(counts, widths, strict=True)) or "none"
    if counts == expected and not odd:
        return Verdict(1.0, f"{len(blocks)} bottleneck blocks in stages of {', '.join(map(str, counts))} "
                            f"(output widths {', '.join(map(str, widths))}). Stem: {stem}.", details)
    summary = (f"Found {len(blocks)} bottleneck blocks (1x1 -> 3x3 -> 1x1 convolutions) in stages of "
               f"{layout} channels; ResNet-50 has {', '.join(map(str, expected))}. Stem: {stem}.")
    return Verdict(0.0, compose_message(summary, odd, ctx.hint, failed=True), details)


def _resnet50_parameter_count(ctx: ScoreContext) -> Verdict:
    ran = _ran(ctx)
    convs = [m for m in ran if m.get("type") == "Conv2d"]
    linears = [m for m in ran if m.get("type") == "Linear"]
    counted = sum(math.prod(int(d) for d in p["shape"]) for p in ctx.student.data["parameters"])
    stem = describe_stem(ctx)
    if not convs or not linears:
        return Verdict(0.0, compose_message(f"The model has {counted:,} trainable parameters, but no convolution or no "
                                            "linear layer ran, so it is not a ResNet-50.", [], ctx.hint, failed=True))
    stem_params, head = int(convs[0].get("params", 0)), linears[-1]
    expected = RESNET50_BODY + stem_params + int(head.get("params", 0))
    details = {"parameters": counted, "expected": expected, "stem": stem}
    head_ok = int(head.get("in_features", -1)) == RESNET50_FEATURES
    if counted == expected and head_ok:
        return Verdict(1.0, f"{counted:,} trainable parameters: ResNet-50's body, the {stem} ({stem_params:,} parameters) "
                            f"and a {head['in_features']} -> {head['out_features']} classifier.", details)
    problems = [] if head_ok else [f"the final linear layer takes {head.get('in_features')} features; ResNet-50 gives 2048"]
    summary = (f"{counted:,} trainable parameters; ResNet-50 with this stem ({stem}, {stem_params:,} parameters) and "
               f"this classifier ({head.get('params', 0):,} parameters) has {expected:,} "
               f"({counted - expected:+,} difference).")
    return Verdict(0.0, compose_message(summary, problems, ctx.hint, failed=True), details)


def _first_conv_gradient(ctx: ScoreContext) -> Verdict:
    convs = [m for m in _ran(ctx) if m.get("type") == "Conv2d"]
    params = {p["name"]: float(p["grad_norm"]) for p in ctx.student.data["parameters"]}
    if not convs:
        return Verdict(0.0, compose_message("No convolution ran in the forward pass.", [], ctx.hint, failed=True))
    first = convs[0]
    name = f"{first['path']}.weight" if first["path"] != "(model)" else "weight"
    norm = params.get(name, -1.0)
    finite = [v for v in params.values() if math.isfinite(v) and v > 0]
    median = statistics.median(finite) if finite else 0.0
    ratio = norm / median if median > 0 and math.isfinite(norm) and norm > 0 else 0.0
    details = {"first_conv": first["path"], "grad_norm": norm, "median_grad_norm": median, "ratio": ratio}
    shown = f"{norm:.3g}" if norm >= 0 else "none"
    summary = (f"The first convolution ({first['path']}) got a gradient of norm {shown}; the median over all "
               f"parameters is {median:.3g} (ratio {ratio:.3g}, needed at least {ctx.params.min_relative_grad:g}).")
    if ratio >= ctx.params.min_relative_grad:
        return Verdict(1.0, summary, details)
    return Verdict(0.0, compose_message(summary, [], ctx.hint, failed=True), details)


def _layer_types(ctx: ScoreContext) -> Verdict:
    ran = _ran(ctx)
    types = {str(m.get("type")) for m in ran}
    problems = []
    for group in ctx.params.required_layers:
        if not types & set(group):
            problems.append(f"no {' / '.join(group)} layer ran in the forward pass")
    for m in ran:
        if m.get("type") in ctx.params.forbidden_layers:
            problems.append(f"{m['path']} is a {m['type']} layer, which this model must not have")
    if ctx.params.expected_output:
        expected = [int(ctx.params.init[v[1:]]) if isinstance(v, str) else int(v) for v in ctx.params.expected_output]
        seen = [int(d) for d in ctx.student.data["output_shape"]]
        if seen != expected:
            problems.append(f"the output has shape {tuple(seen)}; expected {tuple(expected)}")
    if not problems:
        wanted = "; ".join(" / ".join(g) for g in ctx.params.required_layers)
        return Verdict(1.0, "The layers are as required" + (f" (found {wanted})." if wanted else " (none forbidden ran)."))
    summary = f"{len(problems)} problem(s) with the layers that ran in the forward pass:"
    return Verdict(0.0, compose_message(summary, problems, ctx.hint, failed=True), {"layer_types": sorted(types)})


def _uses_class(ctx: ScoreContext) -> Verdict:
    used = [m for m in _ran(ctx) if m.get("interface_class") in ctx.params.classes]
    names = " or ".join(ctx.params.classes)
    if used:
        paths = ", ".join(m["path"] for m in used[:6])
        return Verdict(1.0, f"{len(used)} {names} instance(s) ran in the forward pass ({paths}).", {"count": len(used)})
    defined = [m["path"] for m in _modules(ctx) if m.get("interface_class") in ctx.params.classes]
    extra = f" ({', '.join(defined)} exist but never ran)" if defined else ""
    return Verdict(0.0, compose_message(f"No instance of your {names} ran in the forward pass{extra}.", [], ctx.hint,
                                        failed=True), {"count": 0})


PREDICATES: dict[str, Callable[[ScoreContext], Verdict]] = {
    "bottleneck_stages": _bottleneck_stages, "resnet50_parameter_count": _resnet50_parameter_count,
    "first_conv_gradient": _first_conv_gradient, "layer_types": _layer_types, "uses_class": _uses_class,
}
