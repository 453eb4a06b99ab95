"""The data layer on generated data in the real on-disk formats: decoding, errors, splits, cache, loaders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.data import prepare_all, resolve_root, validate_dataset
from grader.data.cache import PreparedDataset
from grader.data.fixtures import write_fixture_root
from grader.data.sources import SOURCES, decode
from grader.data.splits import DatasetOptions, make_splits
from grader.errors import DataError
from grader.spec import DatasetSpec

from .conftest import REPO


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture_root(tmp_path_factory.mktemp("fixture-data"), train_per_class=30, test_per_class=10)


def fresh_copy(root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(root, target)
    return target


@pytest.mark.parametrize("name", list(SOURCES))
def test_generated_copies_decode_through_torchvision(root: Path, name: str) -> None:
    decoded = decode(name, root)
    shape = SOURCES[name].image_shape
    assert decoded.train_x.shape == (300, *shape) and decoded.train_x.dtype == np.uint8
    assert decoded.test_x.shape == (100, *shape)
    assert np.bincount(decoded.train_y).tolist() == [30] * 10
    assert not decoded.canonical  # generated files are not the release, and say so
    assert decoded.content_fingerprint == decode(name, root).content_fingerprint


def test_content_fingerprint_identifies_the_copy(root: Path, tmp_path: Path) -> None:
    copy = fresh_copy(root, tmp_path)
    before = decode("mnist", copy).content_fingerprint
    labels = copy / "MNIST/raw/t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[-1] = (data[-1] + 1) % 10
    labels.write_bytes(bytes(data))
    assert decode("mnist", copy).content_fingerprint != before


@pytest.mark.parametrize("name", list(SOURCES))
def test_missing_dataset_names_path_layout_and_fix(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError) as err:
        decode(name, tmp_path)
    text = str(err.value)
    assert "not found" in text and str(tmp_path / SOURCES[name].folder) in text
    assert f"grader data prepare {name}" in text and "torchvision's layout" in text


def test_incomplete_dataset_lists_what_is_missing(root: Path, tmp_path: Path) -> None:
    copy = fresh_copy(root, tmp_path)
    (copy / "cifar-10-batches-py/data_batch_3").unlink()
    with pytest.raises(DataError, match=r"incomplete .*data_batch_3"):
        decode("cifar10", copy)


CORRUPTIONS = {
    "truncated images": ("MNIST/raw/train-images-idx3-ubyte", lambda b: b[: len(b) - 500], "truncated"),
    "bad magic": ("FashionMNIST/raw/t10k-labels-idx1-ubyte", lambda b: b"\x00\x00\x09\x01" + b[4:], "bad header"),
    "fewer labels": ("MNIST/raw/t10k-labels-idx1-ubyte",
                     lambda b: b[:4] + (int.from_bytes(b[4:8], "big") - 1).to_bytes(4, "big") + b[8:-1], "labels"),
    "garbage batch": ("cifar-10-batches-py/data_batch_2", lambda b: b[:1000], "data_batch_2: corrupt"),
    "garbage meta": ("cifar-10-batches-py/batches.meta", lambda b: b"not a pickle", "batches.meta: corrupt"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corrupt_files_are_named_without_a_torchvision_traceback(root: Path, tmp_path: Path, case: str) -> None:
    relative, damage, expected = CORRUPTIONS[case]
    copy = fresh_copy(root, tmp_path)
    path = copy / relative
    path.write_bytes(damage(path.read_bytes()))
    name = "cifar10" if "cifar" in relative else ("fashion_mnist" if "Fashion" in relative else "mnist")
    with pytest.raises(DataError) as err:
        decode(name, copy)
    assert str(path.name) in str(err.value) and expected in str(err.value)
    assert "Traceback" not in str(err.value)


class _Payload:
    def __reduce__(self):  # noqa: ANN204 - what a hostile "batch" would run when unpickled
        import os

        return (os.system, ("touch PWNED",))


def test_cifar_batch_with_code_is_refused_unrun(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    copy = fresh_copy(root, tmp_path)
    monkeypatch.chdir(tmp_path)
    (copy / "cifar-10-batches-py/test_batch").write_bytes(pickle.dumps({"data": _Payload(), "labels": []}))
    with pytest.raises(DataError, match=r"test_batch: corrupt.*refusing to load (posix|os)\.system"):
        decode("cifar10", copy)
    assert not (tmp_path / "PWNED").exists()


def test_data_root_comes_from_flag_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DLGRADER_DATA", str(tmp_path / "env"))
    assert resolve_root(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_root(None) == tmp_path / "env"
    monkeypatch.delenv("DLGRADER_DATA")
    assert resolve_root(None).parts[-2:] == ("dl-grader", "datasets")


def test_splits_are_seeded_stratified_disjoint_and_complete() -> None:
    labels = np.repeat(np.arange(10), 50)
    test = np.repeat(np.arange(10), 7)
    a = make_splits(labels, test, DatasetOptions(val_fraction=0.2, split_seed=3))
    b = make_splits(labels, test, DatasetOptions(val_fraction=0.2, split_seed=3))
    c = make_splits(labels, test, DatasetOptions(val_fraction=0.2, split_seed=4))
    assert a.sha256() == b.sha256() and a.sha256() != c.sha256()
    assert not set(a.train) & set(a.val) and sorted([*a.train, *a.val]) == list(range(500))
    assert np.bincount(labels[a.val]).tolist() == [10] * 10  # exactly stratified
    assert sorted(a.eval) == list(range(70)) and list(a.eval) != list(range(70))  # a seeded order


def test_class_subset_keeps_and_relabels(root: Path, tmp_path: Path) -> None:
    spec = DatasetSpec(source="mnist", options={"classes": [3, 5], "val_fraction": 0.1})
    prepared = prepare_all({"pair": spec}, tmp_path / "cache", root)["pair"]
    decoded = decode("mnist", root)
    assert set(decoded.train_y[prepared.splits.train]) | set(decoded.train_y[prepared.splits.val]) == {3, 5}
    assert set(decoded.test_y[prepared.splits.eval]) == {3, 5}
    assert prepared.truth["eval_y"].tolist() == (decoded.test_y[prepared.splits.eval] == 5).astype(int).tolist()
    meta = json.loads((prepared.folder / "meta.json").read_text())
    assert meta["classes"] == ["3", "5"] and meta["sizes"] == {"train": 54, "val": 6, "eval": 20}


@pytest.mark.parametrize(("options", "problem"), [
    ({"classes": [0, 10]}, "classes: mnist has classes 0..9"),
    ({"classes": [1, 1]}, "distinct"),
    ({"val_fraction": 1.5}, "val_fraction"),
    ({"train_size": 10}, "train_size"),
])
def test_bad_dataset_options_are_spec_problems(options: dict, problem: str) -> None:
    problems = validate_dataset(DatasetSpec(source="mnist", options=options), "datasets.digits")
    assert problems and problem in problems[0] and problems[0].startswith("datasets.digits.options")


@pytest.fixture(scope="module")
def prepared(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, PreparedDataset]:
    specs = {"digits": DatasetSpec(source="mnist"), "cifar": DatasetSpec(source="cifar10", options={"split_seed": 7})}
    return prepare_all(specs, tmp_path_factory.mktemp("batch-data"), root)


def test_cache_holds_no_evaluation_labels_and_is_read_only(prepared: dict[str, PreparedDataset]) -> None:
    for item in prepared.values():
        files = sorted(p.name for p in item.folder.iterdir())
        assert files == ["eval_x.npy", "index.npz", "meta.json", "train_x.npy", "train_y.npy"]
        assert all(not (p.stat().st_mode & 0o222) for p in item.folder.iterdir())
        pattern = item.truth["eval_y"][:40]
        for path in item.folder.iterdir():
            blob = path.read_bytes()
            for dtype in ("u1", "<i8", "<i4"):
                assert pattern.astype(dtype).tobytes() not in blob, path


def test_loaders_read_the_cache_in_batches(prepared: dict[str, PreparedDataset]) -> None:
    import torch

    from grader.data.loaders import open_dataset

    data = open_dataset(prepared["cifar"].folder.parent, "cifar")
    assert isinstance(data.train_x, np.memmap) and not data.train_x.flags.writeable
    loader = data.loader("train", batch_size=32, shuffle=True, seed=1, limit=100)
    assert isinstance(loader, torch.utils.data.DataLoader) and len(loader.dataset) == 100
    batches = list(loader)
    assert [len(y) for _, y in batches] == [32, 32, 32, 4]
    x, y = batches[0]
    assert x.shape == (32, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(torch.cat([b[1] for b in batches]).sort().values,
                       torch.as_tensor(data.train_y[data.positions("train", 100)]).sort().values)
    again = [b[1] for b in data.loader("train", batch_size=32, shuffle=True, seed=1, limit=100)]
    assert all(torch.equal(a, b) for a, b in zip(again, [b[1] for b in batches], strict=True))
    normalized = torch.cat([b[0] for b in data.loader("train", batch_size=300, normalize=True)])
    assert abs(float(normalized.mean())) < 0.05 and abs(float(normalized.std()) - 1) < 0.05
    evals = list(data.eval_batches(batch_size=64))
    assert sum(len(e) for e in evals) == 100 and evals[0].shape[1:] == (3, 32, 32)


def test_vision_dataset_behaves_like_torchvision(prepared: dict[str, PreparedDataset]) -> None:
    from PIL import Image

    from grader.data.loaders import open_dataset

    digits = open_dataset(prepared["digits"].folder.parent, "digits").vision_dataset("val")
    image, label = digits[0]
    assert isinstance(image, Image.Image) and image.mode == "L" and image.size == (28, 28)
    assert isinstance(label, int) and digits.data.shape == (len(digits), 28, 28) and len(digits.targets) == len(digits)
    cifar = open_dataset(prepared["cifar"].folder.parent, "cifar").vision_dataset("train", transform=np.asarray)
    assert cifar[3][0].shape == (32, 32, 3) and cifar.classes[0] == "airplane"


def test_data_cli_reports_the_copy_and_errors_cleanly(root: Path, tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "grader", "data", "info", "--data-root", str(root), "--json"],
                        capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    rows = {r["dataset"]: r for r in json.loads(ok.stdout)}
    assert set(rows) == set(SOURCES) and not any(r["canonical"] for r in rows.values())
    missing = subprocess.run([sys.executable, "-m", "grader", "data", "info", "cifar10", "--data-root", str(tmp_path)],
                             capture_output=True, text=True, cwd=REPO)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "cifar-10-batches-py" in missing.stderr and "grader data prepare cifar10" in missing.stderr


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare to cut the network")
def test_prepare_without_a_network_explains_the_layout(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace here")
    done = subprocess.run(["unshare", "--net", sys.executable, "-m", "grader", "data", "prepare", "mnist",
                           "--data-root", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "could not download MNIST" in done.stderr and "MNIST/raw/ holding train-images-idx3-ubyte" in done.stderr


def test_augmented_loader_crops_and_flips_reproducibly(prepared: dict[str, PreparedDataset]) -> None:
    import torch

    from grader.data.loaders import open_dataset, random_crop_flip

    data = open_dataset(prepared["cifar"].folder.parent, "cifar")
    plain = torch.cat([x for x, _ in data.loader("train", batch_size=50, limit=50)])
    augmented = [torch.cat([x for x, _ in data.loader("train", batch_size=50, limit=50, seed=3, augment=True)])
                 for _ in range(2)]
    assert torch.equal(augmented[0], augmented[1])  # seeded: the same run sees the same crops
    assert augmented[0].shape == plain.shape and not torch.equal(augmented[0], plain)
    # each image is a shifted (and maybe mirrored) window of its zero-padded original
    one = torch.arange(2 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4) + 1
    out = random_crop_flip(one, np.random.default_rng(0), pad=1)
    for i in range(2):
        padded = torch.nn.functional.pad(one[i], (1, 1, 1, 1))
        windows = [padded[:, t:t + 4, s:s + 4] for t in range(3) for s in range(3)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1)) for w in windows)


def test_trusted_truth_holds_training_labels_rows_and_class_names(prepared: dict[str, PreparedDataset]) -> None:
    truth = prepared["cifar"].truth
    assert len(truth["train_y"]) == len(truth["train_x"])
    assert set(truth["train_rows"]).isdisjoint(truth["val_rows"])
    assert list(truth["classes"])[:2] == ["airplane", "automobile"]
