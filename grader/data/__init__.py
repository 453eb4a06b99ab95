"""Datasets by name, prepared once per batch, split into what the sandbox sees and what it never sees.

    sources.py   the real datasets (MNIST, Fashion-MNIST, CIFAR-10): layout, torchvision decoding, identity
    splits.py    spec options (class subsets, validation share, seed) and the seeded, recorded splits
    cache.py     the per-batch read-only cache runs memory-map; hidden labels stay in the grader's memory
    loaders.py   inside the sandbox: DataLoaders and torchvision-style datasets over that cache
    download.py  ``grader data prepare``: fetch with torchvision where a network exists
    fixtures.py  tiny learnable copies in the exact on-disk formats, for tests and demos

The data root (where the raw files are) is ``--data-root``, else ``$DLGRADER_DATA``, else
``~/.cache/dl-grader/datasets``. Runs never see it: they get the batch cache only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.data.sources import SOURCES

if TYPE_CHECKING:  # cache.py imports pydantic; runs that only open the cache (loaders.py) should not pay for it
    from grader.data.cache import PreparedDataset
    from grader.data.sources import Decoded

DATA_ENV = "DLGRADER_DATA"

__all__ = ["DATA_ENV", "PreparedDataset", "SOURCES", "prepare_all", "resolve_root", "validate_dataset"]


def __getattr__(name: str) -> object:
    if name == "PreparedDataset":
        from grader.data.cache import PreparedDataset

        return PreparedDataset
    raise AttributeError(name)


def resolve_root(explicit: Path | str | None = None) -> Path:
    """The data root: the flag if given, else ``$DLGRADER_DATA``, else ``~/.cache/dl-grader/datasets``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    return Path.home() / ".cache" / "dl-grader" / "datasets"


def validate_dataset(dataset: Any, where: str) -> list[str]:
    """Problems with one dataset declaration of a spec, as ``key: problem (fix)`` lines."""
    from pydantic import ValidationError

    from grader.data.splits import DatasetOptions
    from grader.spec import validation_problems

    if dataset.source not in SOURCES:
        return [f"{where}.source: unknown dataset source {dataset.source!r} (use one of: {', '.join(SOURCES)})"]
    try:
        options = DatasetOptions.model_validate(dataset.options)
    except ValidationError as exc:
        return validation_problems(exc, f"{where}.options", DatasetOptions)
    count = len(SOURCES[dataset.source].classes)
    if options.classes is not None and max(options.classes) >= count:
        return [f"{where}.options.classes: {dataset.source} has classes 0..{count - 1} (remove {max(options.classes)})"]
    return []


def prepare_all(datasets: dict[str, Any], dest: Path, root: Path) -> dict[str, PreparedDataset]:
    """Decode each source once from ``root`` and write every declared dataset into the batch cache ``dest``."""
    from grader.data.cache import write_cache
    from grader.data.sources import decode
    from grader.data.splits import DatasetOptions, make_splits

    decoded: dict[str, Decoded] = {}
    prepared = {}
    for name, spec in datasets.items():
        if spec.source not in decoded:
            decoded[spec.source] = decode(spec.source, root)
        options = DatasetOptions.model_validate(spec.options)
        source = decoded[spec.source]
        splits = make_splits(source.train_y, source.test_y, options)
        prepared[name] = write_cache(name, source, options, splits, dest)
    return prepared
