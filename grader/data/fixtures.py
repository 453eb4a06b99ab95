"""Tiny, learnable copies of MNIST, Fashion-MNIST and CIFAR-10 in the exact on-disk formats torchvision reads.

Tests and demos point torchvision's own readers (``download=False``) at a root written here, so the real
decoding path runs without the real data. The layout is torchvision's::

    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte           uncompressed IDX, uint8
    <root>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte    same format
    <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}    CIFAR-10 python pickles

The contents are generated, deterministic for a seed, and learnable but not trivial:

* MNIST: scikit-learn's bundled 8x8 digits, upscaled to 28x28 with per-image shifts, brightness and noise;
  train and test images come from disjoint digits where there are enough of them.
* Fashion-MNIST: a garment-like silhouette per class (T-shirt, trouser, ... ankle boot) with a striped
  texture of its own, under per-image shifts, scale, brightness jitter and noise.
* CIFAR-10: a smooth colour and sine-wave pattern per class (some classes share similar colours) under
  per-image shifts, brightness and colour jitter and noise.

The CIFAR pickles are written as the original release was (by Python 2): dict keys and strings are Python 2
byte strings, so ``pickle.load(f, encoding="latin1")`` (torchvision) gives str keys and
``pickle.load(f, encoding="bytes")`` (the classic recipe) gives ``b"data"``-style keys.
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = ["CIFAR10_LABEL_NAMES", "FIXTURE_DATASETS", "write_fixture_root"]

FIXTURE_DATASETS = ("mnist", "fashion_mnist", "cifar10")
CIFAR10_LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_fixture_root(dest: Path, *, datasets: Sequence[str] = FIXTURE_DATASETS, train_per_class: int = 60,
                       test_per_class: int = 20, seed: int = 0) -> Path:
    """Write tiny learnable copies of the named datasets under ``dest`` in torchvision's layout; returns dest.

    ``datasets`` names any of ``mnist``, ``fashion_mnist``, ``cifar10``. Each split holds exactly
    ``train_per_class`` / ``test_per_class`` images of each of the 10 classes, in a seeded random order.
    The same arguments always give byte-identical files.
    """
    if isinstance(datasets, str):
        datasets = (datasets,)
    unknown = [name for name in datasets if name not in _WRITERS]
    if unknown:
        raise ValueError(f"unknown fixture dataset(s) {unknown}; known: {', '.join(FIXTURE_DATASETS)}")
    if train_per_class < 1 or test_per_class < 1:
        raise ValueError(f"train_per_class and test_per_class must be >= 1 (got {train_per_class}, {test_per_class})")
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (got {seed})")
    dest = Path(dest)
    for name in dict.fromkeys(datasets):
        # One independent stream per dataset: adding a dataset to the list does not change the others.
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        _WRITERS[name](dest, rng, train_per_class, test_per_class)
    return dest


# --------------------------------------------------------------------------------------------- file formats


def _atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_idx_pair(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """``<prefix>-images-idx3-ubyte`` and ``<prefix>-labels-idx1-ubyte``: big-endian IDX headers, uint8 data."""
    n, rows, cols = images.shape
    image_bytes = struct.pack(">IIII", 0x0803, n, rows, cols) + np.ascontiguousarray(images, np.uint8).tobytes()
    label_bytes = struct.pack(">II", 0x0801, n) + np.ascontiguousarray(labels, np.uint8).tobytes()
    _atomic_write(folder / f"{prefix}-images-idx3-ubyte", lambda f: f.write(image_bytes))
    _atomic_write(folder / f"{prefix}-labels-idx1-ubyte", lambda f: f.write(label_bytes))


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table can be extended
    """Protocol 2 with ``bytes`` written as Python 2 ``str`` (SHORT_BINSTRING/BINSTRING), as in CIFAR's release.

    Unpickling then honours ``encoding=``: ``"latin1"`` gives str, ``"bytes"`` gives bytes. numpy's array
    state (its raw data is bytes) accepts either, exactly as it does for the original files.
    """

    def _save_py2_str(self, obj: bytes) -> None:
        size = len(obj)
        if size < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([size]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", size) + obj)
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, bytes: _save_py2_str}


def _py2(value: Any) -> Any:
    """str -> bytes throughout dicts and lists (Python 2's ``str``); everything else unchanged."""
    if isinstance(value, str):
        return value.encode("latin1")
    if isinstance(value, dict):
        return {_py2(key): _py2(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_py2(item) for item in value]
    return value


def _write_cifar_pickle(path: Path, entry: dict[str, Any]) -> None:
    _atomic_write(path, lambda f: _Py2Pickler(f, protocol=2).dump(_py2(entry)))


# --------------------------------------------------------------------------------------------- shared helpers


def _labels(rng: np.random.Generator, per_class: int) -> np.ndarray:
    """``per_class`` of each of 10 labels in a seeded random order."""
    return rng.permutation(np.repeat(np.arange(10, dtype=np.int64), per_class))


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """Floats nominally in [0, 1] -> uint8 0..255."""
    return (np.clip(images, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _cycle(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    """``count`` items of ``pool``: successive shuffles of it, so each is reused as evenly as possible."""
    rounds = -(-count // len(pool))
    return np.concatenate([rng.permutation(pool) for _ in range(rounds)])[:count]


# --------------------------------------------------------------------------------------------- MNIST


def _bilinear_matrix(src: int, dst: int) -> np.ndarray:
    """(dst, src) matrix ``A`` such that ``A @ image @ A.T`` resizes a src x src image to dst x dst bilinearly."""
    pos = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
    low = np.floor(pos).astype(int)
    high = np.minimum(low + 1, src - 1)
    weight = pos - low
    matrix = np.zeros((dst, src))
    np.add.at(matrix, (np.arange(dst), low), 1 - weight)
    np.add.at(matrix, (np.arange(dst), high), weight)
    return matrix


def _mnist_split(rng: np.random.Generator, targets: np.ndarray, train_per_class: int,
                 test_per_class: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices into scikit-learn's digits (``targets``) and labels for train and test.

    Each class's digits are shuffled and dealt to test and train without overlap: ``test_per_class`` of them
    where there are enough, else a proportional share (at least one each); a side needing more reuses its own.
    """
    pools: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for label in range(10):
        pool = rng.permutation(np.flatnonzero(targets == label))
        if train_per_class + test_per_class <= len(pool):
            n_test = test_per_class
        else:
            n_test = round(len(pool) * test_per_class / (train_per_class + test_per_class))
            n_test = min(max(n_test, 1), len(pool) - 1)
        pools["test"].append(pool[:n_test])
        pools["train"].append(pool[n_test:])
    out = []
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = _labels(rng, per_class)
        chosen = np.empty(len(labels), dtype=np.int64)
        for label in range(10):
            chosen[labels == label] = _cycle(rng, pools[split][label], per_class)
        out += [chosen, labels]
    return out[0], out[1], out[2], out[3]


def _render_digits(rng: np.random.Generator, small: np.ndarray) -> np.ndarray:
    """8x8 digits (0..16) -> 28x28 uint8: 24x24 bilinear upscale placed with a +-1 px shift, jitter and noise."""
    resize = _bilinear_matrix(8, 24)
    big = np.einsum("ij,njk,lk->nil", resize, small / 16.0, resize)
    n = len(small)
    canvas = np.zeros((n, 28, 28))
    shifts = rng.integers(-1, 2, size=(n, 2))
    for i, (dy, dx) in enumerate(shifts):
        canvas[i, 2 + dy: 26 + dy, 2 + dx: 26 + dx] = big[i]
    canvas *= rng.uniform(0.75, 1.15, size=(n, 1, 1))
    canvas += rng.normal(0.0, 0.06, size=canvas.shape)
    return _to_uint8(canvas)


def _write_mnist(dest: Path, rng: np.random.Generator, train_per_class: int, test_per_class: int) -> None:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    train_idx, train_y, test_idx, test_y = _mnist_split(rng, digits.target, train_per_class, test_per_class)
    folder = dest / "MNIST" / "raw"
    _write_idx_pair(folder, "train", _render_digits(rng, digits.images[train_idx]), train_y)
    _write_idx_pair(folder, "t10k", _render_digits(rng, digits.images[test_idx]), test_y)


# --------------------------------------------------------------------------------------------- Fashion-MNIST


def _box(u: np.ndarray, v: np.ndarray, u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    return (u > u0) & (u < u1) & (v > v0) & (v < v1)


def _top(u: np.ndarray, v: np.ndarray, bottom: float, sleeve_end: float, sleeve_gap: bool) -> np.ndarray:
    """A torso with sleeves ending at ``sleeve_end``, minus a round neckline; optionally arms apart from the body."""
    a = np.abs(u)
    torso = _box(a, v, -1, 0.42, -0.65, bottom)
    sleeves = _box(a, v, 0.42, 0.82, -0.65, sleeve_end)
    if sleeve_gap:
        sleeves &= (a > 0.5) | (v < -0.3)
    neck = u**2 + (v + 0.72) ** 2 < 0.2**2
    return (torso | sleeves) & ~neck


def _garment(label: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Class ``label``'s silhouette (Fashion-MNIST's classes, in order) as a float mask on coordinates in [-1, 1]."""
    a = np.abs(u)
    if label == 0:  # T-shirt/top: short sleeves
        mask = _top(u, v, 0.85, -0.2, False) * 1.0
    elif label == 1:  # trouser: waistband and two legs
        mask = (_box(a, v, -1, 0.38, -0.9, -0.5) | _box(a, v, 0.07, 0.38, -0.5, 0.95)) * 1.0
    elif label == 2:  # pullover: long sleeves hanging beside the body
        mask = _top(u, v, 0.8, 0.75, True) * 1.0
    elif label == 3:  # dress: narrow top widening to the hem
        mask = ((v > -0.9) & (v < 0.95) & (a < 0.18 + 0.32 * (v + 0.9) / 1.85)) * 1.0
    elif label == 4:  # coat: long, long sleeves, a dark opening down the front
        mask = _top(u, v, 0.95, 0.85, True) * np.where(a < 0.05, 0.35, 1.0)
    elif label == 5:  # sandal: a sole and open straps
        straps = _box(a, v, -1, 0.9, 0.1, 0.45) & (np.sin(9.0 * u) > 0.1)
        mask = (straps | _box(a, v, -1, 0.9, 0.45, 0.6)) * 1.0
    elif label == 6:  # shirt: long sleeves, collar and buttons
        body = _top(u, v, 0.85, 0.6, False) | _box(a, v, -1, 0.2, -0.85, -0.6)
        buttons = (a < 0.05) & (np.cos(14.0 * v) > 0.6) & (v > -0.5)
        mask = body * np.where(buttons, 0.3, 1.0)
    elif label == 7:  # sneaker: low shoe, higher at the heel
        mask = ((a < 0.9) & (v < 0.55) & (v > -0.15 + 0.45 * (u + 0.9) / 1.8)) * 1.0
    elif label == 8:  # bag: a box with a handle
        handle = (v < -0.25) & (np.hypot(u / 1.2, v + 0.25) > 0.3) & (np.hypot(u / 1.2, v + 0.25) < 0.45)
        mask = (_box(a, v, -1, 0.75, -0.25, 0.8) | handle) * 1.0
    else:  # ankle boot: a shaft and a foot
        mask = (_box(u, v, -0.55, 0.05, -0.85, 0.6) | _box(u, v, -0.55, 0.9, 0.15, 0.6)) * 1.0
    return mask


def _render_fashion(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """28x28 uint8 garments: silhouette x class-specific stripes, per-image shift/scale/brightness, noise."""
    n = len(labels)
    grid = (np.arange(28) - 13.5) / 13.0
    shift = rng.uniform(-3.0, 3.0, size=(n, 2)) / 13.0
    scale = rng.uniform(0.85, 1.12, size=(n, 1, 1))
    v = (grid[None, :, None] - shift[:, 0, None, None]) / scale
    u = (grid[None, None, :] - shift[:, 1, None, None]) / scale
    u, v = np.broadcast_to(u, (n, 28, 28)), np.broadcast_to(v, (n, 28, 28))
    angle = labels * (np.pi / 10)
    frequency = 1.5 + (labels % 4) * 1.2
    phase = rng.uniform(0, 2 * np.pi, size=n)
    along = u * np.cos(angle)[:, None, None] + v * np.sin(angle)[:, None, None]
    stripes = np.sin(2 * np.pi * frequency[:, None, None] * along + phase[:, None, None])
    base = 0.6 + 0.3 * ((labels * 7) % 10) / 9
    images = np.empty((n, 28, 28))
    for label in range(10):
        at = labels == label
        images[at] = _garment(label, u[at], v[at])
    images *= (base[:, None, None] * (0.75 + 0.25 * stripes)) * rng.uniform(0.7, 1.15, size=(n, 1, 1))
    images += rng.normal(0.0, 0.15, size=images.shape)
    return _to_uint8(images)


def _write_fashion(dest: Path, rng: np.random.Generator, train_per_class: int, test_per_class: int) -> None:
    folder = dest / "FashionMNIST" / "raw"
    for prefix, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = _labels(rng, per_class)
        _write_idx_pair(folder, prefix, _render_fashion(rng, labels), labels)


# --------------------------------------------------------------------------------------------- CIFAR-10

# Per class: a base colour (RGB in 0..1) and a wave frequency (cycles per image across, down). Several classes
# share near colours (cat/dog/deer/horse, ship/airplane) so colour alone does not separate them.
_CIFAR_STYLES = (
    ((0.55, 0.68, 0.88), (0.5, 1.5)),  # airplane
    ((0.78, 0.28, 0.25), (2.0, 0.5)),  # automobile
    ((0.55, 0.55, 0.38), (1.5, 1.5)),  # bird
    ((0.60, 0.46, 0.40), (1.0, 2.5)),  # cat
    ((0.55, 0.45, 0.32), (2.5, 1.0)),  # deer
    ((0.62, 0.50, 0.40), (0.5, 3.0)),  # dog
    ((0.38, 0.58, 0.30), (3.0, 2.0)),  # frog
    ((0.52, 0.38, 0.28), (1.0, 0.5)),  # horse
    ((0.35, 0.48, 0.72), (3.0, 0.5)),  # ship
    ((0.70, 0.64, 0.32), (2.0, 2.5)),  # truck
)


def _render_cifar(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """(n, 32, 32, 3) uint8: class colour + class sine waves, per-image shift, brightness/colour jitter, noise."""
    n = len(labels)
    colour = np.array([style[0] for style in _CIFAR_STYLES])[labels]  # (n, 3)
    freq = np.array([style[1] for style in _CIFAR_STYLES])[labels]  # (n, 2)
    channel_phase = 2 * np.pi * labels[:, None] / 10 * np.array([1.0, 2.0, 3.0])  # (n, 3)
    shift = rng.integers(-4, 5, size=(n, 2))
    y = (np.arange(32)[None, :] + shift[:, :1]) / 32  # (n, 32)
    x = (np.arange(32)[None, :] + shift[:, 1:]) / 32
    wave = 2 * np.pi * (freq[:, 1, None, None] * y[:, :, None] + freq[:, 0, None, None] * x[:, None, :])
    images = 0.6 * colour[:, None, None, :] + 0.22 * np.sin(wave[..., None] + channel_phase[:, None, None, :])
    images = images * rng.uniform(0.7, 1.3, size=(n, 1, 1, 1)) + rng.normal(0, 0.06, size=(n, 1, 1, 3))
    images += rng.normal(0.0, 0.15, size=images.shape)
    return _to_uint8(images)


def _cifar_batch(label: str, images: np.ndarray, labels: np.ndarray, first: int) -> dict[str, Any]:
    """One batch as the release stores it: ``data`` rows are 1024 red, 1024 green, 1024 blue values."""
    rows = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))
    names = [f"{CIFAR10_LABEL_NAMES[y]}_s_{first + i:06d}.png" for i, y in enumerate(labels.tolist())]
    return {"batch_label": label, "labels": labels.tolist(), "data": rows, "filenames": names}


def _write_cifar(dest: Path, rng: np.random.Generator, train_per_class: int, test_per_class: int) -> None:
    folder = dest / "cifar-10-batches-py"
    train_y = _labels(rng, train_per_class)
    train_x = _render_cifar(rng, train_y)
    test_y = _labels(rng, test_per_class)
    test_x = _render_cifar(rng, test_y)
    bounds = np.linspace(0, len(train_y), 6).round().astype(int)
    for i in range(5):
        part = slice(bounds[i], bounds[i + 1])
        batch = _cifar_batch(f"training batch {i + 1} of 5", train_x[part], train_y[part], int(bounds[i]))
        _write_cifar_pickle(folder / f"data_batch_{i + 1}", batch)
    _write_cifar_pickle(folder / "test_batch", _cifar_batch("testing batch 1 of 1", test_x, test_y, len(train_y)))
    meta = {"num_cases_per_batch": int(bounds[1] - bounds[0]), "label_names": list(CIFAR10_LABEL_NAMES),
            "num_vis": 3072}
    _write_cifar_pickle(folder / "batches.meta", meta)


_WRITERS: dict[str, Callable[[Path, np.random.Generator, int, int], None]] = {
    "mnist": _write_mnist,
    "fashion_mnist": _write_fashion,
    "cifar10": _write_cifar,
}
