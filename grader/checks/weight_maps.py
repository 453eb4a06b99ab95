"""Loading the grader's weights into a submission's module, whatever layout the student chose.

A weight map finds the submission's parameters by shape and returns them under canonical names with
their canonical shapes, so the same weights go into the reference and the submission, and gradients
come back in one layout. Runs inside the sandbox.
"""

from __future__ import annotations

from typing import Any, Callable

from grader.checks.torch_helpers import randn


class WeightMapError(Exception):
    """The submission's parameters cannot be matched to the canonical ones."""


def pointwise_conv(module: Any, init: dict[str, Any]) -> dict[str, tuple[Any, tuple[int, ...]]]:
    """Weight shaped (Cout, Cin, 1, 1) or (Cout, Cin), bias (Cout,) when ``bias`` is true."""
    cin, cout = int(init["in_channels"]), int(init["out_channels"])
    use_bias = bool(init.get("bias", True))
    weight_shapes = {(cout, cin, 1, 1), (cout, cin)}
    weights, biases, others = [], [], []
    for name, param in module.named_parameters():
        shape = tuple(param.shape)
        if shape in weight_shapes:
            weights.append((name, param))
        elif shape == (cout,):
            biases.append((name, param))
        else:
            others.append(f"{name} {shape}")
    expected = f"a weight shaped ({cout}, {cin}, 1, 1) or ({cout}, {cin})"
    if len(weights) != 1:
        found = ", ".join(f"{n} {tuple(p.shape)}" for n, p in module.named_parameters()) or "no parameters"
        raise WeightMapError(f"expected exactly one parameter that is {expected}; found {found}")
    if len(biases) != int(use_bias):
        want = f"one bias shaped ({cout},)" if use_bias else "no bias (bias=False)"
        raise WeightMapError(f"expected {want}; found {len(biases)} parameter(s) shaped ({cout},)")
    if others:
        raise WeightMapError(f"unexpected extra parameters for a 1x1 convolution: {', '.join(others)}")
    mapping = {"weight": (weights[0][1], (cout, cin))}
    if use_bias:
        mapping["bias"] = (biases[0][1], (cout,))
    return mapping


WEIGHT_MAPS: dict[str, Callable[[Any, dict[str, Any]], dict[str, tuple[Any, tuple[int, ...]]]]] = {
    "pointwise_conv": pointwise_conv,
}


def load_canonical_weights(module: Any, layout: str, init: dict[str, Any], seed: int) -> dict[str, Any]:
    """Fill the module's mapped parameters with seeded normals; return canonical name -> parameter."""
    import torch

    mapping = WEIGHT_MAPS[layout](module, init)
    params = {}
    with torch.no_grad():
        for offset, (name, (param, canonical_shape)) in enumerate(sorted(mapping.items())):
            values = randn(list(canonical_shape), seed + 1000 + offset, dtype=param.dtype)
            param.copy_(values.reshape(param.shape).to(param.device))
            params[name] = (param, canonical_shape)
    return params
