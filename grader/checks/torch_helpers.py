"""Helpers the probes share inside the sandbox (torch imported lazily by the callers' calls)."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import numpy as np

_GRADER_DIR = str(Path(__file__).resolve().parent.parent)


def describe_exception(exc: BaseException) -> str:
    """``TypeError: msg (in forward, line 12 of your code)``: the innermost frame outside the grader."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_GRADER_DIR)]
    student = [f for f in frames if "site-packages" not in f.filename and "/lib/python" not in f.filename]
    text = f"{type(exc).__name__}: {exc}".strip()
    if len(text) > 500:
        text = text[:500] + "..."
    if student:
        frame = student[-1]
        text += f" (in {frame.name}, line {frame.lineno} of your code)"
    return text


def generator(seed: int) -> Any:
    import torch

    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def randn(shape: list[int], seed: int, dtype: Any = None) -> Any:
    """A CPU tensor of standard normals fixed by ``seed`` (moved to the device by the caller)."""
    import torch

    return torch.randn(*shape, generator=generator(seed), dtype=dtype or torch.float32)


def to_numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().to("cpu").contiguous().numpy().copy()


def parameter_count(module: Any, trainable_only: bool = True) -> int:
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only))


def loss_history(value: Any, limit: int = 10000) -> dict[str, Any]:
    """What a student's ``train()`` returned, as ``{"history": [float | None, ...]}`` or ``{"history_problem": ...}``.

    Tensors and numpy scalars become floats, non-finite values None; judging the history is the trusted side's job.
    """
    import math

    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        return {"history_problem": f"train() returned a {type(value).__name__}, not a list of per-epoch losses"}
    values: list[float | None] = []
    for item in list(value)[:limit]:
        try:
            number = float(item.item() if hasattr(item, "item") else item)
        except (TypeError, ValueError, RuntimeError):
            return {"history_problem": f"train() returned a list holding a {type(item).__name__}, not numbers"}
        values.append(number if math.isfinite(number) else None)
    return {"history": values}
