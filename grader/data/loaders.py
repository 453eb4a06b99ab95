"""Inside the sandbox (imports torch): datasets and loaders over the batch's data cache (see ``grader/data/cache.py``).

Probes build every loader an interface function receives from here, so no run decodes or normalises a
dataset again. Arrays are memory-mapped read-only; a loader converts one batch at a time, which keeps a
run's memory to a few batches whatever the dataset's size. Evaluation inputs come without labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

Split = Literal["train", "val", "all"]


class CachedDataset:
    """One prepared dataset, opened read-only: ``train_x`` / ``train_y`` / ``eval_x`` and the grader's split."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
        self.train_x: np.ndarray = np.load(folder / "train_x.npy", mmap_mode="r", allow_pickle=False)
        self.train_y: np.ndarray = np.load(folder / "train_y.npy", allow_pickle=False)
        self.eval_x: np.ndarray = np.load(folder / "eval_x.npy", mmap_mode="r", allow_pickle=False)
        with np.load(folder / "index.npz", allow_pickle=False) as index:
            self.index = {key: index[key] for key in ("train", "val")}

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    def positions(self, split: Split, limit: int = 0) -> np.ndarray:
        """Rows of ``train_x`` in ``split`` (in the split's seeded order), the first ``limit`` if given."""
        rows = np.arange(len(self.train_x)) if split == "all" else self.index[split]
        return rows[:limit] if limit else rows

    def to_tensor(self, images: np.ndarray, normalize: bool = False) -> torch.Tensor:
        """uint8 (N, H, W[, C]) -> float32 (N, C, H, W) in [0, 1] (like ``ToTensor``), or standardised per channel."""
        x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).float().div_(255.0)
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()
        if normalize:
            mean = torch.tensor(self.meta["mean"]).view(1, -1, 1, 1)
            std = torch.tensor(self.meta["std"]).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x

    def loader(self, split: Split, *, batch_size: int, shuffle: bool = False, seed: int = 0, limit: int = 0,
               normalize: bool = False, augment: bool = False, rows: np.ndarray | None = None) -> DataLoader:
        """A real ``torch.utils.data.DataLoader`` yielding ``(images, labels)`` batches, converted per batch.

        ``augment`` adds the standard CIFAR augmentation (random 32x32 crop of the image padded by 4, random
        horizontal flip), drawn from a generator seeded by ``seed``; ``rows`` overrides the split's rows.
        """
        chosen = self.positions(split, limit) if rows is None else np.asarray(rows, dtype=np.int64)
        dataset = TensorSplit(self, chosen, normalize, augment_seed=seed if augment else None)
        generator = torch.Generator().manual_seed(seed) if shuffle else None
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                                           collate_fn=already_collated)

    def vision_dataset(self, split: Split, transform: Callable[..., Any] | None = None,
                       target_transform: Callable[..., Any] | None = None, limit: int = 0,
                       rows: np.ndarray | None = None) -> "VisionSplit":
        """A torchvision-style dataset (PIL image through ``transform``, int label); ``rows`` overrides the split's."""
        chosen = self.positions(split, limit) if rows is None else np.asarray(rows, dtype=np.int64)
        return VisionSplit(self, chosen, transform, target_transform)

    def eval_batches(self, batch_size: int = 256, limit: int = 0, normalize: bool = False) -> Iterator[torch.Tensor]:
        """The hidden evaluation inputs as float tensors, in evaluation order; there are no labels here."""
        end = min(limit, len(self.eval_x)) if limit else len(self.eval_x)
        for start in range(0, end, batch_size):
            yield self.to_tensor(self.eval_x[start: min(start + batch_size, end)], normalize)


def already_collated(batch: Any) -> Any:
    return batch


class TensorSplit(Dataset):
    """Map-style dataset whose ``__getitems__`` converts a whole batch in one vectorised step."""

    def __init__(self, data: CachedDataset, rows: np.ndarray, normalize: bool, augment_seed: int | None = None) -> None:
        self.data, self.rows, self.normalize = data, rows, normalize
        self.augment = None if augment_seed is None else np.random.default_rng(augment_seed)
        self.targets = data.train_y[rows]
        self.classes = data.classes

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        x, y = self.__getitems__([i])
        return x[0], int(y[0])

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.rows[np.asarray(indices, dtype=np.int64)]
        order = np.argsort(rows, kind="stable")  # read the memory map front to back, then restore the order
        images = np.empty((len(rows), *self.data.train_x.shape[1:]), dtype=np.uint8)
        images[order] = self.data.train_x[rows[order]]
        x = self.data.to_tensor(images, self.normalize)
        if self.augment is not None:
            x = random_crop_flip(x, self.augment)
        return x, torch.from_numpy(self.data.train_y[rows].astype(np.int64))


def random_crop_flip(x: torch.Tensor, rng: np.random.Generator, pad: int = 4) -> torch.Tensor:
    """Each image of a batch (N, C, H, W) cropped at random from its zero-padded copy and flipped with p=0.5."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    out = torch.empty_like(x)
    tops, lefts = rng.integers(0, 2 * pad + 1, size=n), rng.integers(0, 2 * pad + 1, size=n)
    flips = rng.random(n) < 0.5
    for i in range(n):
        crop = padded[i, :, tops[i]: tops[i] + h, lefts[i]: lefts[i] + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


class VisionSplit(Dataset):
    """Like torchvision's MNIST / CIFAR10 datasets: ``data``, ``targets``, ``classes``, ``(PIL image, label)`` items."""

    def __init__(self, data: CachedDataset, rows: np.ndarray, transform: Callable[..., Any] | None,
                 target_transform: Callable[..., Any] | None) -> None:
        self.source, self.rows = data, rows
        self.transform, self.target_transform = transform, target_transform
        self.targets: list[int] = data.train_y[rows].astype(int).tolist()
        self.classes = data.classes
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    @property
    def data(self) -> np.ndarray:
        """The images as uint8 (N, H, W[, C]); a copy of this split's rows."""
        return np.asarray(self.source.train_x[self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        from PIL import Image

        array = np.asarray(self.source.train_x[self.rows[i]])
        image = Image.fromarray(array)  # (H, W) uint8 -> mode L, (H, W, 3) -> RGB, as torchvision does
        target: Any = self.targets[i]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


def open_dataset(data_dir: Path, name: str) -> CachedDataset:
    """The prepared dataset ``name`` of this run's batch."""
    return CachedDataset(Path(data_dir) / name)
