"""The generated fixture data: torchvision's own readers accept it, it is learnable, and it is deterministic."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets import CIFAR10, MNIST, FashionMNIST

from grader.data.fixtures import CIFAR10_LABEL_NAMES, write_fixture_root

IDX_DATASETS = {"mnist": MNIST, "fashion_mnist": FashionMNIST}
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


class LocalCIFAR10(CIFAR10):
    """torchvision's CIFAR10 reader without its md5 checks against the official release."""

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as handle:
            self.classes = pickle.load(handle, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


@pytest.fixture(scope="module")
def default_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All three datasets at the default sizes (60 train, 20 test per class)."""
    return write_fixture_root(tmp_path_factory.mktemp("fixtures"))


def load(name: str, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels as torchvision decodes them."""
    ds = LocalCIFAR10(str(root), train=train) if name == "cifar10" else IDX_DATASETS[name](root, train=train)
    return np.asarray(ds.data), np.asarray(ds.targets)


def all_files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("name", list(IDX_DATASETS))
@pytest.mark.parametrize("per_class", [(60, 20), (2, 1)])
def test_torchvision_reads_idx_datasets(tmp_path: Path, name: str, per_class: tuple[int, int]) -> None:
    train_per_class, test_per_class = per_class
    root = write_fixture_root(tmp_path, datasets=[name], train_per_class=train_per_class,
                              test_per_class=test_per_class)
    assert root == tmp_path
    for train, count in ((True, train_per_class), (False, test_per_class)):
        ds = IDX_DATASETS[name](root, train=train, download=False)
        assert len(ds) == 10 * count
        assert tuple(ds.data.shape) == (10 * count, 28, 28) and str(ds.data.dtype) == "torch.uint8"
        assert np.bincount(ds.targets.numpy(), minlength=10).tolist() == [count] * 10
        assert int(ds.data.max()) > 200  # real ink, not an empty canvas
    assert sorted(p.name for p in (root / IDX_DATASETS[name].__name__ / "raw").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]


def test_idx_headers_are_big_endian(default_root: Path) -> None:
    raw = default_root / "MNIST" / "raw"
    images, labels = (raw / "train-images-idx3-ubyte").read_bytes(), (raw / "train-labels-idx1-ubyte").read_bytes()
    assert [int.from_bytes(images[i:i + 4], "big") for i in range(0, 16, 4)] == [0x0803, 600, 28, 28]
    assert [int.from_bytes(labels[i:i + 4], "big") for i in range(0, 8, 4)] == [0x0801, 600]
    assert len(images) == 16 + 600 * 28 * 28 and len(labels) == 8 + 600 and max(labels[8:]) == 9


@pytest.mark.parametrize("per_class", [(60, 20), (2, 1), (7, 3)])
def test_cifar_batches_are_release_shaped_pickles(tmp_path: Path, per_class: tuple[int, int]) -> None:
    train_per_class, test_per_class = per_class
    root = write_fixture_root(tmp_path, datasets=["cifar10"], train_per_class=train_per_class,
                              test_per_class=test_per_class)
    folder = root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(CIFAR_FILES)
    labels: list[int] = []
    sizes = []
    for i in range(1, 6):
        with open(folder / f"data_batch_{i}", "rb") as handle:
            entry = pickle.load(handle, encoding="latin1")
        assert set(entry) == {"data", "labels", "batch_label", "filenames"}
        assert entry["batch_label"] == f"training batch {i} of 5"
        assert entry["data"].dtype == np.uint8 and entry["data"].shape == (len(entry["labels"]), 3072)
        assert all(isinstance(y, int) for y in entry["labels"]) and len(entry["filenames"]) == len(entry["labels"])
        labels += entry["labels"]
        sizes.append(len(entry["labels"]))
    assert max(sizes) - min(sizes) <= 1  # split evenly over the five batches
    assert np.bincount(labels, minlength=10).tolist() == [train_per_class] * 10
    with open(folder / "test_batch", "rb") as handle:
        test = pickle.load(handle, encoding="latin1")
    assert test["data"].shape == (10 * test_per_class, 3072) and test["batch_label"] == "testing batch 1 of 1"
    assert np.bincount(test["labels"], minlength=10).tolist() == [test_per_class] * 10
    with open(folder / "batches.meta", "rb") as handle:
        meta = pickle.load(handle, encoding="latin1")
    assert meta == {"num_cases_per_batch": sizes[0], "label_names": list(CIFAR10_LABEL_NAMES), "num_vis": 3072}


def test_cifar_pickles_use_python2_strings(default_root: Path) -> None:
    """As in the real release, the classic ``encoding="bytes"`` recipe gives byte-string keys and names."""
    folder = default_root / "cifar-10-batches-py"
    with open(folder / "data_batch_1", "rb") as handle:
        as_bytes = pickle.load(handle, encoding="bytes")
    with open(folder / "data_batch_1", "rb") as handle:
        as_str = pickle.load(handle, encoding="latin1")
    assert set(as_bytes) == {b"data", b"labels", b"batch_label", b"filenames"}
    assert np.array_equal(as_bytes[b"data"], as_str["data"]) and as_bytes[b"labels"] == as_str["labels"]
    assert as_bytes[b"filenames"] == [name.encode() for name in as_str["filenames"]]
    with open(folder / "batches.meta", "rb") as handle:
        assert pickle.load(handle, encoding="bytes")[b"label_names"][0] == b"airplane"


def test_torchvision_cifar10_reads_the_batches(default_root: Path) -> None:
    for train, count in ((True, 600), (False, 200)):
        ds = LocalCIFAR10(str(default_root), train=train, download=False)
        assert ds.data.shape == (count, 32, 32, 3) and ds.data.dtype == np.uint8
        assert len(ds) == count and np.bincount(ds.targets, minlength=10).tolist() == [count // 10] * 10
        assert ds.classes == list(CIFAR10_LABEL_NAMES)
        image, target = ds[0]
        assert image.size == (32, 32) and target == ds.targets[0]
    with open(default_root / "cifar-10-batches-py" / "data_batch_1", "rb") as handle:
        first_row = pickle.load(handle, encoding="latin1")["data"][0]
    train = LocalCIFAR10(str(default_root), train=True)
    assert np.array_equal(train.data[0].transpose(2, 0, 1).reshape(-1), first_row)  # planes are R, G, B


def pooled(images: np.ndarray) -> np.ndarray:
    """4x4 average-pooled pixels in [0, 1], one row per image (small enough to fit in well under a second)."""
    x = images.astype(np.float64) / 255.0
    n, h, w = x.shape[:3]
    return x.reshape(n, h // 4, 4, w // 4, 4, -1).mean(axis=(2, 4)).reshape(n, -1)


@pytest.mark.parametrize(("name", "low", "high"), [("mnist", 0.6, 1.0), ("fashion_mnist", 0.5, 1.0),
                                                   ("cifar10", 0.5, 0.95)])
def test_learnable_but_not_trivial(default_root: Path, name: str, low: float, high: float) -> None:
    from sklearn.linear_model import LogisticRegression

    train_x, train_y = load(name, default_root, train=True)
    test_x, test_y = load(name, default_root, train=False)
    model = LogisticRegression(C=0.1, max_iter=1000).fit(pooled(train_x), train_y)
    accuracy = model.score(pooled(test_x), test_y)
    assert low <= accuracy <= high, f"{name}: test accuracy {accuracy:.3f} outside [{low}, {high}] (chance 0.1)"


def test_mnist_digits_are_disjoint_between_train_and_test() -> None:
    from sklearn.datasets import load_digits

    from grader.data.fixtures import _mnist_split

    targets = load_digits().target
    for train_per_class, test_per_class in ((60, 20), (200, 50)):  # enough digits per class, then too few
        rng = np.random.default_rng(0)
        train_idx, train_y, test_idx, test_y = _mnist_split(rng, targets, train_per_class, test_per_class)
        assert not set(train_idx.tolist()) & set(test_idx.tolist())
        assert np.array_equal(targets[train_idx], train_y) and np.array_equal(targets[test_idx], test_y)
    assert len(set(_mnist_split(np.random.default_rng(0), targets, 60, 20)[0].tolist())) == 600  # no reuse


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, default_root: Path) -> None:
    again = all_files(write_fixture_root(tmp_path / "again"))
    assert again == all_files(default_root)
    other = all_files(write_fixture_root(tmp_path / "other", seed=1))
    assert other.keys() == again.keys()
    changed = [name for name in other if other[name] != again[name]]
    assert set(changed) == set(again) - {"cifar-10-batches-py/batches.meta"}  # the meta holds no samples


def test_datasets_are_independent_of_each_other(tmp_path: Path, default_root: Path) -> None:
    alone = all_files(write_fixture_root(tmp_path, datasets=["fashion_mnist"]))
    assert set(alone) == {name for name in all_files(default_root) if name.startswith("FashionMNIST/")}
    assert all(alone[name] == (default_root / name).read_bytes() for name in alone)


@pytest.mark.parametrize("kwargs", [{"datasets": ["svhn"]}, {"train_per_class": 0}, {"test_per_class": 0},
                                    {"seed": -1}])
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        write_fixture_root(tmp_path, **kwargs)
