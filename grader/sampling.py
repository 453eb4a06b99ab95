"""Deterministic test cases from a spec's compact description.

A case is a mapping whose leaves are plain values or generators::

    {randint: [lo, hi]}     an integer in [lo, hi]
    {choice: [a, b, ...]}   one of the listed values
    "$name"                 the value already drawn for ``name`` in the same case's ``init``

A case may carry ``repeat: n`` to draw it n times. Both the sandbox (to call the submission) and the
trusted side (to write messages) resolve cases with the same seed, so neither trusts the other's copy.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def derived_seed(seed: int, *labels: str) -> int:
    """A stable 31-bit seed for one check, independent of the order checks run in."""
    digest = hashlib.sha256(":".join([str(seed), *labels]).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _draw(value: Any, rng: np.random.Generator, scope: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"randint"}:
            lo, hi = value["randint"]
            return int(rng.integers(lo, hi + 1))
        if set(value) == {"choice"}:
            options = value["choice"]
            return options[int(rng.integers(0, len(options)))]
        return {k: _draw(v, rng, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_draw(v, rng, scope) for v in value]
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in scope:
            raise KeyError(f"case refers to ${name}, which its 'init' does not define")
        return scope[name]
    return value


def resolve_cases(cases: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Expand ``repeat`` and draw every generator; ``init`` is drawn first so others may refer to it."""
    rng = np.random.default_rng(seed)
    resolved: list[dict[str, Any]] = []
    for case in cases:
        template = dict(case)
        repeat = int(template.pop("repeat", 1))
        for _ in range(repeat):
            init = _draw(template.get("init", {}), rng, {})
            drawn = {"init": init} if "init" in template else {}
            for key, value in template.items():
                if key != "init":
                    drawn[key] = _draw(value, rng, init)
            resolved.append(drawn)
    return resolved


def describe_call(name: str, kwargs: dict[str, Any]) -> str:
    """``PointwiseConv(in_channels=3, out_channels=8)`` for messages."""
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"{name}({args})"
