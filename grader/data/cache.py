"""The per-batch data cache: a dataset decoded once, written as read-only ``.npy`` files every run maps.

    <batch>/data/<name>/
        train_x.npy    uint8 (N, H, W[, 3]): the kept training images, in the source's order
        train_y.npy    int64 (N,): their labels (relabelled when the spec keeps a subset of classes)
        eval_x.npy     uint8 (M, H, W[, 3]): the hidden evaluation images, in evaluation order; NO labels
        index.npz      train, val: positions into train_x; source_train, source_eval: indices into the source
        meta.json      name, source, classes, sizes, per-channel mean/std of the training split, fingerprint

Runs open the arrays with ``numpy.load(mmap_mode="r")``: nothing is copied or decoded again, the pages are
shared between concurrent runs through the page cache, and a run holds in memory only the batches it makes.
The evaluation labels exist only in the grader's memory (:attr:`PreparedDataset.truth`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.data.sources import Decoded, describe
from grader.data.splits import DatasetOptions, Splits, keep_classes

FORMAT_VERSION = 1  # bump when the files above change meaning; it is part of every dataset fingerprint


@dataclass
class PreparedDataset:
    """A dataset in the batch cache, plus what only the trusted side may know about it."""

    name: str
    folder: Path
    # What only the trusted side holds, in the grader's own memory (never re-read from files a run could touch):
    # eval_y (labels of eval_x, never written where a run can read), eval_x (the evaluation images, for
    # scoring reconstructions), train_x and train_rows (the training images and the train split's rows, in
    # the order runs see them, for baselines the grader fits itself), train_y and val_rows (the labels of
    # train_x and the validation split's rows, to score predictions on training images the grader chose),
    # classes (the class names, for confusion matrices).
    truth: dict[str, np.ndarray]
    fingerprint: str  # the copy, the options and the split: part of the calibration key
    description: str
    splits: Splits
    info: dict[str, Any] = field(default_factory=dict)


def _channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in [0, 1] units, in chunks so a uint8 array is never copied as floats."""
    channels = images.shape[3] if images.ndim == 4 else 1
    total = np.zeros(channels)
    squares = np.zeros(channels)
    count = 0
    for start in range(0, len(images), 4096):
        chunk = images[start: start + 4096].reshape(-1, channels).astype(np.float64) / 255.0
        total += chunk.sum(axis=0)
        squares += (chunk**2).sum(axis=0)
        count += len(chunk)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 1e-12))
    return [round(float(m), 6) for m in mean], [round(float(s), 6) for s in std]


def dataset_fingerprint(decoded: Decoded, options: DatasetOptions, splits: Splits) -> str:
    digest = hashlib.sha256()
    digest.update(f"format {FORMAT_VERSION}\n{decoded.content_fingerprint}\n".encode())
    digest.update(options.model_dump_json().encode() + b"\n" + splits.sha256().encode())
    return digest.hexdigest()


def _save(path: Path, array: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)
    path.chmod(0o444)


def write_cache(name: str, decoded: Decoded, options: DatasetOptions, splits: Splits, dest: Path) -> PreparedDataset:
    """Write dataset ``name`` into ``dest/<name>/`` for the runs; return it with its hidden labels."""
    folder = dest / name
    folder.mkdir(parents=True)
    kept, labels = keep_classes(decoded.train_y, options.classes)
    eval_y = keep_classes(decoded.test_y[splits.eval], options.classes)[1]  # every eval index is of a kept class
    train_x = decoded.train_x[kept]
    _save(folder / "train_x.npy", train_x)
    _save(folder / "train_y.npy", labels)
    _save(folder / "eval_x.npy", decoded.test_x[splits.eval])
    np.savez(folder / "index.npz", train=np.searchsorted(kept, splits.train), val=np.searchsorted(kept, splits.val),
             source_train=kept, source_eval=splits.eval)
    (folder / "index.npz").chmod(0o444)
    class_names = decoded.source.classes if options.classes is None else [decoded.source.classes[c] for c in options.classes]
    mean, std = _channel_stats(train_x[np.searchsorted(kept, splits.train)] if len(splits.train) else train_x)
    fingerprint = dataset_fingerprint(decoded, options, splits)
    meta = {"name": name, "source": decoded.source.name, "title": decoded.source.title,
            "layout": "cifar" if decoded.source.name == "cifar10" else "mnist",
            "classes": class_names, "image_shape": list(decoded.source.image_shape), "sizes": splits.sizes(),
            "mean": mean, "std": std, "fingerprint": fingerprint, "format": FORMAT_VERSION}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    (folder / "meta.json").chmod(0o444)
    folder.chmod(0o555)
    subset = "" if options.classes is None else f", classes {options.classes}"
    sizes = splits.sizes()
    description = (f"{decoded.source.title}{subset}: {sizes['train']} training, {sizes['val']} validation, "
                   f"{sizes['eval']} hidden evaluation images")
    info = {**describe(decoded), "fingerprint": fingerprint, "description": description, "options": options.model_dump(),
            "split": {"seed": options.split_seed, "val_fraction": options.val_fraction, "sizes": sizes,
                      "indices_sha256": splits.sha256()}}
    truth = {"eval_y": eval_y, "eval_x": decoded.test_x[splits.eval], "train_x": train_x, "train_y": labels,
             "train_rows": np.searchsorted(kept, splits.train), "val_rows": np.searchsorted(kept, splits.val),
             "classes": np.array(class_names)}
    return PreparedDataset(name=name, folder=folder, truth=truth, fingerprint=fingerprint,
                           description=description, splits=splits, info=info)
