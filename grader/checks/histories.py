"""Per-epoch history dicts returned by a student's ``train()``: recorded in the sandbox, judged in the grader.

``record`` (sandbox side) turns whatever ``train()`` returned into plain data without believing any of it;
``judge`` (trusted side) holds it to the contract "a dict of lists, one finite number per epoch", and
``chart`` draws the curves for the report.
"""

from __future__ import annotations

import math
from typing import Any

from grader import figures

MAX_KEYS, MAX_POINTS = 12, 1000


def record(value: Any) -> dict[str, Any]:
    """``{"histories": {key: [float | None, ...]}}`` or ``{"history_problem": text}``; tensors become floats."""
    if not isinstance(value, dict):
        return {"history_problem": f"train() returned a {type(value).__name__}, not a dict of per-epoch histories"}
    histories: dict[str, list[float | None]] = {}
    for key, series in list(value.items())[:MAX_KEYS]:
        if isinstance(series, (str, bytes, dict)) or not hasattr(series, "__iter__"):
            return {"history_problem": f"train()'s history {str(key)[:40]!r} is a {type(series).__name__}, not a list"}
        values: list[float | None] = []
        for item in list(series)[:MAX_POINTS]:
            try:
                number = float(item.item() if hasattr(item, "item") else item)
            except (TypeError, ValueError, RuntimeError):
                return {"history_problem": f"train()'s history {str(key)[:40]!r} holds a {type(item).__name__}, not numbers"}
            values.append(number if math.isfinite(number) else None)
        histories[str(key)[:60]] = values
    return {"histories": histories}


def judge(data: dict[str, Any], epochs: int, required: list[str] | None = None) -> tuple[str, bool]:
    """The bar "train() returned a dict of per-epoch lists, one finite number per epoch" (plus required keys)."""
    if "history_problem" in data:
        return str(data["history_problem"])[:300], False
    histories = data.get("histories")
    if not isinstance(histories, dict) or not histories:
        return "train() returned no per-epoch history (return a dict such as {'train_loss': [...], 'val_acc': [...]})", False
    missing = [k for k in required or [] if k not in histories]
    if missing:
        return (f"train()'s history has keys {', '.join(sorted(histories))[:200]} but lacks "
                f"{', '.join(missing)}"), False
    wrong = [f"{k} has {len(v)}" for k, v in histories.items() if not isinstance(v, list) or len(v) != epochs]
    if wrong:
        return f"one number per epoch ({epochs}) is needed: {'; '.join(wrong[:4])}", False
    broken = [k for k, v in histories.items() if any(x is None for x in v)]
    if broken:
        return f"NaN or infinite values in {', '.join(broken[:4])}", False
    return f"train() returned {len(histories)} per-epoch histories ({', '.join(sorted(histories))[:200]})", True


def chart(title: str, data: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """A line chart of the returned histories (nothing when there are none)."""
    histories = data.get("histories")
    if not isinstance(histories, dict) or not histories:
        return []
    series = [(f"{prefix}{k}", v) for k, v in histories.items() if isinstance(v, list)]
    return [figures.line_chart(title, series, x_label="epoch", y_label="value")] if series else []
