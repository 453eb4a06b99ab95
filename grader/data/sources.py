"""The real datasets by name: where their files live under a data root, and how to read them.

A data root is laid out as torchvision expects with ``download=False``::

    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    <root>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}

Decoding goes through torchvision's own dataset classes. A copy whose files differ from the original
release (re-packed by course staff, or generated for tests) is accepted: it is identified by its own
content fingerprint and marked as not canonical. Every failure is a :class:`DataError` naming the path
and the expected layout, never a torchvision traceback.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader.errors import DataError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
MNIST_CLASSES = [str(d) for d in range(10)]


@dataclass(frozen=True)
class Source:
    """One dataset as published: its folder under the root, its files and their release md5s."""

    name: str
    title: str
    folder: str
    release_md5: dict[str, str]  # file name -> md5 of the original release (uncompressed)
    image_shape: tuple[int, ...]
    classes: list[str]
    torchvision_class: str

    def layout(self, root: Path) -> str:
        files = ", ".join(self.release_md5)
        return f"{root / self.folder}/ holding {files} (torchvision's layout for {self.torchvision_class})"


def _idx_files(train_images: str, train_labels: str, test_images: str, test_labels: str) -> dict[str, str]:
    return {"train-images-idx3-ubyte": train_images, "train-labels-idx1-ubyte": train_labels,
            "t10k-images-idx3-ubyte": test_images, "t10k-labels-idx1-ubyte": test_labels}


# md5s of the original releases' uncompressed files (torchvision lists those of the .gz archives; these
# are what its download leaves in raw/). CIFAR-10's are torchvision's own table.
SOURCES: dict[str, Source] = {
    "mnist": Source(
        "mnist", "MNIST", "MNIST/raw",
        _idx_files("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                   "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"),
        (28, 28), MNIST_CLASSES, "MNIST"),
    "fashion_mnist": Source(
        "fashion_mnist", "Fashion-MNIST", "FashionMNIST/raw",
        _idx_files("f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
                   "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"),
        (28, 28), FASHION_CLASSES, "FashionMNIST"),
    "cifar10": Source(
        "cifar10", "CIFAR-10", "cifar-10-batches-py",
        {"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
         "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
         "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
         "batches.meta": "5ff9c542aee3614f3951f8cda6e48888"},
        (32, 32, 3), CIFAR10_CLASSES, "CIFAR10"),
}


@dataclass
class Decoded:
    """A whole dataset in memory, as torchvision decoded it, plus the identity of the copy it came from."""

    source: Source
    root: Path
    train_x: np.ndarray  # uint8 (N, H, W) or (N, H, W, 3)
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    file_md5: dict[str, str]
    content_fingerprint: str  # sha256 over the files' names and contents: this copy's identity
    canonical: bool  # every file is byte-identical to the original release


def locate(source: Source, root: Path) -> dict[str, Path]:
    """The dataset's files under ``root``, or a :class:`DataError` listing what is missing."""
    folder = root / source.folder
    missing = [name for name in source.release_md5 if not (folder / name).is_file()]
    if missing:
        what = "not found" if len(missing) == len(source.release_md5) else "incomplete"
        raise DataError(
            f"dataset {source.name!r} {what} under the data root {root}: missing "
            f"{', '.join(str(folder / m) for m in missing)}.\nExpected: {source.layout(root)}.\n"
            f"Fix: run `grader data prepare {source.name} --data-root {root}` where there is a network, or copy "
            f"the files into that layout (set the root with --data-root or $DLGRADER_DATA)."
        )
    return {name: folder / name for name in source.release_md5}


def fingerprint_files(files: dict[str, Path]) -> tuple[dict[str, str], str]:
    """Per-file md5 (to compare with the release) and one sha256 over all names and contents."""
    md5s: dict[str, str] = {}
    overall = hashlib.sha256()
    for name in sorted(files):
        md5, sha = hashlib.md5(), hashlib.sha256()
        with open(files[name], "rb") as handle:
            while chunk := handle.read(1 << 22):
                md5.update(chunk)
                sha.update(chunk)
        md5s[name] = md5.hexdigest()
        overall.update(f"{name}\0{sha.hexdigest()}\n".encode())
    return md5s, overall.hexdigest()


def _check_idx(path: Path, dims: int, source: Source) -> int:
    """Validate an IDX file's header against its size (torchvision silently truncates); returns its item count."""
    with open(path, "rb") as handle:
        header = handle.read(4 + 4 * dims)
    size = path.stat().st_size
    expected_magic = 0x0800 + dims
    if len(header) < 4 + 4 * dims or int.from_bytes(header[:4], "big") != expected_magic:
        raise DataError(f"{path}: not an IDX file of uint8 with {dims} dimension(s) (bad header); the file is corrupt "
                        f"or not part of {source.title}. Expected: {source.layout(path.parent.parent.parent)}.")
    shape = [int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    need = 4 + 4 * dims + int(np.prod(shape))
    if size != need:
        raise DataError(f"{path}: corrupt or truncated: its header declares {'x'.join(map(str, shape))} values "
                        f"({need} bytes) but the file has {size} bytes. Re-download or re-copy it.")
    if dims == 3 and tuple(shape[1:]) != source.image_shape:
        raise DataError(f"{path}: images are {shape[1]}x{shape[2]}, {source.title} images are "
                        f"{source.image_shape[0]}x{source.image_shape[1]}.")
    return shape[0]


def _torchvision_idx(source: Source, root: Path, files: dict[str, Path]) -> list[np.ndarray]:
    from torchvision import datasets

    counts = {name: _check_idx(path, 3 if "images" in name else 1, source) for name, path in files.items()}
    for split in ("train", "t10k"):
        images, labels = counts[f"{split}-images-idx3-ubyte"], counts[f"{split}-labels-idx1-ubyte"]
        if images != labels:
            raise DataError(f"{files[f'{split}-images-idx3-ubyte']}: {images} images but "
                            f"{files[f'{split}-labels-idx1-ubyte'].name} has {labels} labels; the copy is inconsistent.")
    cls = getattr(datasets, source.torchvision_class)
    out = []
    for train in (True, False):
        ds = cls(str(root), train=train, download=False)
        out += [ds.data.numpy(), ds.targets.numpy().astype(np.int64)]
    return out


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches only: plain containers and numpy arrays, no other global is ever resolved.

    The files come from the data root, which course staff fill, not from the sandbox; but a root is a
    folder on disk, so a file holding anything beyond arrays and lists is refused rather than trusted.
    """

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays")
        return super().find_class(module, name)


def _safe_load(path: Path) -> Any:
    with open(path, "rb") as handle:
        return _ArrayUnpickler(handle, encoding="latin1").load()


def _vet_cifar(source: Source, root: Path, files: dict[str, Path]) -> None:
    """Every file must unpickle with :class:`_ArrayUnpickler` into the release's structure, before torchvision reads it."""
    for name, path in files.items():
        try:
            entry = _safe_load(path)
            if name == "batches.meta":
                if "label_names" not in entry:
                    raise ValueError("no label_names")
                continue
            data, labels = entry["data"], entry["labels"]
            if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
                raise ValueError(f"{getattr(data, 'shape', '?')} image array and {len(labels)} labels; expected "
                                 "(N, 3072) uint8 and N labels")
        except Exception as exc:  # noqa: BLE001 - whatever is wrong, name the file
            raise DataError(f"{path}: corrupt, cannot be read as a CIFAR-10 python batch ({type(exc).__name__}: {exc}). "
                            f"Re-download or re-copy it. Expected: {source.layout(root)}.") from None


def _torchvision_cifar(source: Source, root: Path, files: dict[str, Path]) -> list[np.ndarray]:
    from torchvision.datasets import CIFAR10

    _vet_cifar(source, root, files)

    class LocalCIFAR10(CIFAR10):
        """torchvision's reader; the presence and content checks are ours (a re-packed copy is legitimate)."""

        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:
            self.classes = _safe_load(files["batches.meta"])["label_names"]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    out = []
    for train in (True, False):
        ds = LocalCIFAR10(str(root), train=train, download=False)
        if list(ds.classes) != source.classes:
            raise DataError(f"{files['batches.meta']}: label names {ds.classes} are not CIFAR-10's {source.classes}.")
        out += [np.asarray(ds.data, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64)]
    return out


def decode(name: str, root: Path) -> Decoded:
    """Read dataset ``name`` from ``root`` through torchvision, validated; a :class:`DataError` if anything is off."""
    source = SOURCES[name]
    files = locate(source, root)
    file_md5, fingerprint = fingerprint_files(files)
    reader = _torchvision_cifar if source.name == "cifar10" else _torchvision_idx
    try:
        train_x, train_y, test_x, test_y = reader(source, root, files)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - torchvision's messages do not name the file or the layout
        raise DataError(f"cannot read {source.title} under {root / source.folder} ({type(exc).__name__}: {exc}). "
                        f"Expected: {source.layout(root)}.") from None
    for split, x, y in (("training", train_x, train_y), ("test", test_x, test_y)):
        if x.shape[1:] != source.image_shape or len(x) != len(y) or len(x) == 0:
            raise DataError(f"{root / source.folder}: the {split} split has images shaped {x.shape} and {len(y)} labels; "
                            f"expected N images of {source.image_shape} and N labels.")
        if y.min() < 0 or y.max() >= len(source.classes):
            raise DataError(f"{root / source.folder}: {split} labels outside 0..{len(source.classes) - 1}.")
    return Decoded(source, root, np.ascontiguousarray(train_x), train_y, np.ascontiguousarray(test_x), test_y,
                   file_md5, fingerprint, canonical=file_md5 == source.release_md5)


def describe(decoded: Decoded) -> dict[str, Any]:
    """How results and reports name the copy that was used."""
    # The root is left out on purpose: results are shown to students, and the raw files hold the test labels.
    return {"source": decoded.source.name, "title": decoded.source.title,
            "content_fingerprint": decoded.content_fingerprint, "canonical": decoded.canonical,
            "files_md5": decoded.file_md5}
