"""The registry on the real datasets from ../shared/datasets (skipped, with the reason, where they are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.data import prepare_all
from grader.data.loaders import open_dataset
from grader.data.sources import decode
from grader.spec import DatasetSpec

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

# (train size, test size, image shape, images per class in the test split or None when uneven)
EXPECTED = {
    "mnist": (60000, 10000, (28, 28), None),
    "fashion_mnist": (60000, 10000, (28, 28), 1000),
    "cifar10": (50000, 10000, (32, 32, 3), 1000),
}
# The offline copies: MNIST and Fashion-MNIST are byte-identical to the release; CIFAR-10 is re-packed.
CANONICAL = {"mnist": True, "fashion_mnist": True, "cifar10": False}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_dataset_sizes_classes_and_ranges(real_data_root: Path, name: str) -> None:
    train_n, test_n, shape, per_class = EXPECTED[name]
    decoded = decode(name, real_data_root)
    assert decoded.train_x.shape == (train_n, *shape) and decoded.test_x.shape == (test_n, *shape)
    assert decoded.train_x.dtype == np.uint8 and decoded.train_x.min() == 0 and decoded.train_x.max() == 255
    for labels in (decoded.train_y, decoded.test_y):
        assert labels.min() == 0 and labels.max() == 9 and len(np.unique(labels)) == 10
    if per_class:
        assert np.bincount(decoded.test_y).tolist() == [per_class] * 10
        assert np.bincount(decoded.train_y).tolist() == [train_n // 10] * 10
    assert decoded.canonical is CANONICAL[name]
    assert len(decoded.content_fingerprint) == 64


def test_mnist_label_counts_match_the_release(real_data_root: Path) -> None:
    decoded = decode("mnist", real_data_root)
    assert np.bincount(decoded.test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_cifar_copy_is_told_apart_from_the_release(real_data_root: Path) -> None:
    decoded = decode("cifar10", real_data_root)
    assert not decoded.canonical
    assert decoded.file_md5["data_batch_1"] == "8e965217bf60ecd54d5abfa7dd1c8621"  # this copy's own md5
    assert decoded.file_md5["batches.meta"] == decoded.source.release_md5["batches.meta"]


def test_registry_prepares_a_digit_subset_and_its_loaders(real_data_root: Path, tmp_path: Path) -> None:
    specs = {"digits05": DatasetSpec(source="mnist", options={"classes": [0, 1, 2, 3, 4, 5], "split_seed": 1}),
             "cifar": DatasetSpec(source="cifar10")}
    prepared = prepare_all(specs, tmp_path, real_data_root)
    digits = prepared["digits05"]
    sizes = digits.splits.sizes()
    assert sizes["train"] + sizes["val"] == 36017 and sizes["eval"] == 6031  # digits 0-5 in MNIST
    assert set(np.unique(digits.truth["eval_y"])) == set(range(6))
    data = open_dataset(tmp_path, "digits05")
    x, y = next(iter(data.loader("train", batch_size=128)))
    assert x.shape == (128, 1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1 and int(y.max()) <= 5
    cifar = open_dataset(tmp_path, "cifar")
    assert cifar.meta["sizes"] == {"train": 45000, "val": 5000, "eval": 10000}
    assert all(0.4 < m < 0.55 for m in cifar.meta["mean"]) and all(0.2 < s < 0.3 for s in cifar.meta["std"])
