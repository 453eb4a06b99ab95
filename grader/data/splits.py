"""The grader's splits of a dataset: which classes, which training images validate, which test images judge.

All indices come from ``numpy.random.default_rng`` seeded by the spec (PCG64 gives the same stream on every
machine), so the same seed and the same data give the same split everywhere. Indices are recorded with
each result, relative to torchvision's order of the source's training and test sets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class DatasetOptions(BaseModel):
    """``options:`` of a dataset in a spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: list[int] | None = Field(
        None, min_length=2, description="keep only these source classes, relabelled 0..k-1 in this order")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="share of the training set held out for validation")
    split_seed: int = Field(0, description="seed of the train/validation split and of the evaluation order")

    @model_validator(mode="after")
    def _distinct(self) -> "DatasetOptions":
        if self.classes is not None and (len(set(self.classes)) != len(self.classes) or min(self.classes) < 0):
            raise ValueError("classes must be distinct class numbers >= 0, e.g. [0, 1, 2, 3, 4, 5]")
        return self


@dataclass
class Splits:
    """Indices into the source's training set (``train``, ``val``) and test set (``eval``, in evaluation order)."""

    train: np.ndarray
    val: np.ndarray
    eval: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "eval": len(self.eval)}

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for part in (self.train, self.val, self.eval):
            digest.update(np.ascontiguousarray(part, dtype="<i8").tobytes() + b"|")
        return digest.hexdigest()


def keep_classes(labels: np.ndarray, classes: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the samples in ``classes`` (source order) and their labels relabelled 0..k-1."""
    if classes is None:
        return np.arange(len(labels)), labels.astype(np.int64)
    mapping = np.full(int(max(labels.max(), max(classes))) + 1, -1, dtype=np.int64)
    mapping[classes] = np.arange(len(classes))
    kept = np.flatnonzero(mapping[labels] >= 0)
    return kept, mapping[labels[kept]]


def make_splits(train_y: np.ndarray, test_y: np.ndarray, options: DatasetOptions) -> Splits:
    """A stratified train/validation split of the training set and a seeded order of the test set."""
    kept, labels = keep_classes(train_y, options.classes)
    rng = np.random.default_rng([options.split_seed, 1])
    val_parts = []
    for cls in np.unique(labels):
        members = kept[labels == cls]
        take = int(round(options.val_fraction * len(members)))
        val_parts.append(rng.permutation(members)[:take])
    val = np.concatenate(val_parts) if val_parts else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(kept, val)
    test_kept, _ = keep_classes(test_y, options.classes)
    return Splits(train=rng.permutation(train).astype(np.int64), val=rng.permutation(val).astype(np.int64),
                  eval=np.random.default_rng([options.split_seed, 2]).permutation(test_kept).astype(np.int64))
