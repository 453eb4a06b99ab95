"""Datasets the checks use, by source name, split into what the sandbox sees and what it never sees.

``prepare`` writes ``<name>.npz`` with ``train_x``, ``train_y`` and ``eval_x`` for the sandbox (read-only
there) and returns the evaluation labels separately, for the trusted scorer only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import ValidationError


@dataclass
class PreparedDataset:
    name: str
    sandbox_file: Path
    truth: dict[str, np.ndarray]
    fingerprint: str
    description: str
    info: dict[str, Any] = field(default_factory=dict)


def _sources() -> dict[str, tuple[type, Callable[..., dict[str, np.ndarray]]]]:
    from grader.data import synthetic

    return {"synthetic_cifar10": (synthetic.Options, synthetic.make_cifar_like)}


def validate_dataset(dataset: Any, where: str) -> list[str]:
    """Problems with one dataset declaration, as ``key: problem (fix)`` lines."""
    from grader.spec import validation_problems

    sources = _sources()
    if dataset.source not in sources:
        return [f"{where}.source: unknown dataset source {dataset.source!r} (use one of: {', '.join(sources)})"]
    try:
        sources[dataset.source][0].model_validate(dataset.options)
    except ValidationError as exc:
        return validation_problems(exc, f"{where}.options", sources[dataset.source][0])
    return []


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(str(arrays[key].dtype).encode() + str(arrays[key].shape).encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()


def prepare(name: str, dataset: Any, dest: Path) -> PreparedDataset:
    """Materialise dataset ``name`` into ``dest``; evaluation labels stay in the returned object only."""
    options_model, make = _sources()[dataset.source]
    options = options_model.model_validate(dataset.options)
    arrays = make(options)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}.npz"
    np.savez(path, train_x=arrays["train_x"], train_y=arrays["train_y"], eval_x=arrays["eval_x"])
    path.chmod(0o444)
    return PreparedDataset(
        name=name,
        sandbox_file=path,
        truth={"eval_y": arrays["eval_y"]},
        fingerprint=fingerprint_arrays(arrays),
        description=f"{dataset.source} (generated: {len(arrays['train_y'])} training, {len(arrays['eval_y'])} evaluation images)",
        info={"source": dataset.source, "canonical": False, "options": options.model_dump()},
    )
