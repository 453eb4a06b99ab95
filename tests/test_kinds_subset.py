"""The ``subset`` kind end to end in-process: the probe calls plain functions, the trusted side judges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch.utils.data import Subset, random_split

from grader.checks import get_kind
from grader.checks.base import Budget, Observation, ProbeContext, Verdict
from grader.checks.subset import SIZES, Params, SyntheticImages, labels_for, read_part, synthetic_labels

from .test_scoring_units import context

PROPERTIES = {"split": ("disjoint_cover", "size", "seeded", "balance"), "subset": ("size", "unique", "seeded", "balance")}


def judge(fn: Callable[..., Any], mode: str, tmp_path: Path, properties: tuple[str, ...] | None = None,
          **thresholds: Any) -> dict[str, Verdict]:
    """Probe once per property with one shared dict (as one run does), round-trip through JSON, score."""
    module, target = get_kind("subset"), "split_dataset" if mode == "split" else "make_subset"
    calls = {"count": 0}

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        return fn(*args, **kwargs)

    shared: dict[str, Any] = {}
    verdicts = {}
    for prop in properties or PROPERTIES[mode]:
        params = {"target": target, "mode": mode, "property": prop}
        ctx = ProbeContext(check_id=f"{target}_{prop}", namespace={target: counted}, interface={},
                           params=Params.model_validate(params), budget=Budget(), seed=0, device="cpu",
                           data_dir=tmp_path, shared=shared)
        seen = module.probe(ctx)
        student = Observation(data=json.loads(json.dumps(seen.data)), arrays={k: v.copy() for k, v in seen.arrays.items()})
        verdicts[prop] = module.score(context("subset", params, student, Observation(), thresholds=thresholds,
                                              hint="Shuffle first."))
    assert calls["count"] == 2 * 4  # two datasets x seeds (0, 0, 1, 7), shared by every property
    return verdicts


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- students' split_dataset ------------------------------------------------------------------------------------

def split_randperm(dataset: Any, val_fraction: float = 0.1, seed: int = 0) -> tuple[Subset, Subset]:
    perm = torch.randperm(len(dataset), generator=generator(seed)).tolist()
    k = round(val_fraction * len(dataset))
    return Subset(dataset, perm[k:]), Subset(dataset, perm[:k])


def split_random_split(dataset: Any, val_fraction: float = 0.1, seed: int = 0) -> list[Subset]:
    k = round(val_fraction * len(dataset))
    return random_split(dataset, [len(dataset) - k, k], generator=generator(seed))


def split_stratified(dataset: Any, val_fraction: float = 0.1, seed: int = 0) -> tuple[Subset, Subset]:
    """Evenly spaced picks from a label-sorted random order: exactly round(f x N), every class in proportion."""
    n, k = len(dataset), round(val_fraction * len(dataset))
    perm = np.random.default_rng(seed).permutation(n)
    order = perm[np.argsort(np.asarray(dataset.targets)[perm], kind="stable")]
    picked = np.zeros(n, dtype=bool)
    picked[np.floor((np.arange(k) + 0.5) * n / k).astype(int)] = True
    return Subset(dataset, order[~picked]), Subset(dataset, order[picked])


def split_leaky(dataset: Any, val_fraction: float = 0.1, seed: int = 0) -> tuple[Subset, Subset]:
    rng, n = np.random.default_rng(seed), len(dataset)
    k = round(val_fraction * n)
    return Subset(dataset, rng.choice(n, n - k, replace=False)), Subset(dataset, rng.choice(n, k, replace=False))


def split_by_label(dataset: Any, val_fraction: float = 0.1, seed: int = 0) -> tuple[Subset, Subset]:
    order = np.argsort(np.asarray(dataset.targets), kind="stable")
    k = round(val_fraction * len(dataset))
    return Subset(dataset, order[:-k]), Subset(dataset, order[-k:])


def split_swapped(dataset: Any, val_fraction: float = 0.1, seed: int = 0) -> tuple[Subset, Subset]:
    return split_randperm(dataset, val_fraction, seed)[::-1]


@pytest.mark.parametrize("fn", [split_randperm, split_random_split, split_stratified])
def test_correct_splits_pass_every_property(fn: Callable[..., Any], tmp_path: Path) -> None:
    for prop, verdict in judge(fn, "split", tmp_path).items():
        assert verdict.passed, (prop, verdict.message)
        assert not verdict.errored and "Hint" not in verdict.message


def test_leaky_split_fails_disjoint_cover(tmp_path: Path) -> None:
    verdict = judge(split_leaky, "split", tmp_path, ("disjoint_cover",))["disjoint_cover"]
    assert verdict.fraction == 0 and "0 of 8 calls" in verdict.message
    assert "images are in both parts" in verdict.message and "images are in neither" in verdict.message
    assert "split_dataset(<a dataset of 5000 images>, val_fraction=0.1, seed=0)" in verdict.message
    assert verdict.message.endswith("Hint: Shuffle first.")


def test_label_sorted_split_fails_balance_and_seeded(tmp_path: Path) -> None:
    verdicts = judge(split_by_label, "split", tmp_path)
    assert verdicts["disjoint_cover"].passed and verdicts["size"].passed
    balance = verdicts["balance"]
    assert not balance.passed and "of the validation part but" in balance.message and "(allowed 5.0%)" in balance.message
    seeded = verdicts["seeded"]
    assert seeded.fraction == pytest.approx(2 / 3) and "seed=0 and seed=1 gave the same validation part" in seeded.message


def test_swapped_parts_fail_size_with_a_pointer(tmp_path: Path) -> None:
    verdict = judge(split_swapped, "split", tmp_path, ("size",))["size"]
    assert not verdict.passed and "validation part of 4500 images; expected 500" in verdict.message
    assert "look swapped" in verdict.message


# --- students' make_subset --------------------------------------------------------------------------------------

def subset_randperm(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
    perm = torch.randperm(len(dataset), generator=generator(seed))
    return Subset(dataset, perm[: round(fraction * len(dataset))].tolist())


def subset_of_subset(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
    shuffled = Subset(dataset, np.random.default_rng(seed).permutation(len(dataset)))
    return Subset(shuffled, range(round(fraction * len(dataset))))


def subset_prefix(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
    return Subset(dataset, range(round(fraction * len(dataset))))


def subset_unseeded(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
    return Subset(dataset, torch.randperm(len(dataset))[: round(fraction * len(dataset))].tolist())


def subset_with_replacement(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
    k = round(fraction * len(dataset))
    return Subset(dataset, torch.randint(0, len(dataset), (k,), generator=generator(seed)).tolist())


@pytest.mark.parametrize("fn", [subset_randperm, subset_of_subset])
def test_correct_subsets_pass_every_property(fn: Callable[..., Any], tmp_path: Path) -> None:
    for prop, verdict in judge(fn, "subset", tmp_path).items():
        assert verdict.passed, (prop, verdict.message)


def test_prefix_subset_fails_seeded(tmp_path: Path) -> None:
    verdicts = judge(subset_prefix, "subset", tmp_path)
    assert verdicts["size"].passed and verdicts["unique"].passed
    seeded = verdicts["seeded"]
    assert seeded.fraction == pytest.approx(1 / 3)
    assert "the subset is the first 1000 consecutive images (0..999)" in seeded.message
    assert "other seeds give other images (no)" in seeded.message


def test_unseeded_subset_fails_seeded(tmp_path: Path) -> None:
    seeded = judge(subset_unseeded, "subset", tmp_path, ("seeded",))["seeded"]
    assert seeded.fraction == pytest.approx(2 / 3)
    assert "two calls with seed=0 on the same 5000-image dataset returned different images" in seeded.message


def test_with_replacement_fails_unique(tmp_path: Path) -> None:
    verdicts = judge(subset_with_replacement, "subset", tmp_path, ("unique", "size"))
    assert verdicts["unique"].fraction == 0
    assert "the subset of 1000 images holds only" in verdicts["unique"].message
    assert verdicts["size"].passed  # len() is right; the duplicates are what is wrong


def test_size_accepts_round_floor_and_ceil_and_names_the_expected(tmp_path: Path) -> None:
    def ceil_subset(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
        perm = torch.randperm(len(dataset), generator=generator(seed)).tolist()
        return Subset(dataset, perm[: int(np.ceil(fraction * len(dataset)))])

    def half_subset(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
        return subset_randperm(dataset, fraction / 2, seed)

    assert judge(ceil_subset, "subset", tmp_path, ("size",))["size"].passed  # 997 x 0.2 = 199.4 -> 200
    verdict = judge(half_subset, "subset", tmp_path, ("size",))["size"]
    assert verdict.fraction == 0 and "returned 500 images; expected 1000 (round(0.2 x 5000))" in verdict.message


def test_balance_tolerance_is_a_threshold(tmp_path: Path) -> None:
    verdict = judge(subset_randperm, "subset", tmp_path, ("balance",), balance_tolerance=0.0001)["balance"]
    assert not verdict.passed and "makes up" in verdict.message


# --- malformed returns and errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, fn, expected", [
    ("subset", lambda dataset, fraction=0.2, seed=0: list(range(10)), "the items of the subset are int objects"),
    ("subset", lambda dataset, fraction=0.2, seed=0: {"indices": [1, 2]}, "the subset is of type dict, not a dataset"),
    ("subset", lambda dataset, fraction=0.2, seed=0: 42, "the subset is of type int, not a dataset"),
    ("split", lambda dataset, val_fraction=0.1, seed=0: Subset(dataset, [0, 1]), "it returned an object of type Subset, not a pair"),
    ("split", lambda dataset, val_fraction=0.1, seed=0: (1, 2, 3), "it returned an object of type tuple of 3 items, not a pair"),
    ("split", lambda dataset, val_fraction=0.1, seed=0: ([[0, 1]], [[2, 3]]),
     "the images of the training part are int objects"),
])
def test_wrong_types_fail_clearly(mode: str, fn: Callable[..., Any], expected: str, tmp_path: Path) -> None:
    for prop, verdict in judge(fn, mode, tmp_path).items():
        assert verdict.fraction == 0 and not verdict.errored, prop
        assert expected in verdict.message, (prop, verdict.message)


def test_a_raising_function_is_an_error(tmp_path: Path) -> None:
    def broken(dataset: Any, val_fraction: float = 0.1, seed: int = 0) -> Any:
        raise ValueError("no split today")

    for prop, verdict in judge(broken, "split", tmp_path).items():
        assert verdict.errored and verdict.fraction == 0, prop
        assert "raised ValueError: no split today" in verdict.message


def test_raising_on_one_dataset_only_fails_without_error(tmp_path: Path) -> None:
    def small_fails(dataset: Any, fraction: float = 0.2, seed: int = 0) -> Subset:
        if len(dataset) < 1000:
            raise RuntimeError("too small")
        return subset_randperm(dataset, fraction, seed)

    verdicts = judge(small_fails, "subset", tmp_path)
    assert verdicts["balance"].passed  # judged on the large dataset only
    for prop in ("size", "unique"):
        assert verdicts[prop].fraction == 0 and not verdicts[prop].errored and "4 of 8 calls" in verdicts[prop].message
    assert 0 < verdicts["seeded"].fraction < 1


@pytest.mark.parametrize("data, arrays", [
    ({}, {}),
    ({"calls": "nonsense"}, {}),
    ({"calls": [{"sizes": ["a"]}] * 8}, {}),
    ({"calls": [{"sizes": [3]}] * 8}, {"call0_part0": np.ones((2, 2))}),
    ({"calls": [None, 5, {"sizes": [1]}]}, {"call2_part0": np.array([0.5])}),
])
@pytest.mark.parametrize("mode, prop", [*(("subset", p) for p in PROPERTIES["subset"]), ("split", "disjoint_cover"),
                                        ("split", "size"), ("split", "balance")])
def test_malformed_observations_fail_without_exception(data: dict[str, Any], arrays: dict[str, np.ndarray],
                                                       mode: str, prop: str) -> None:
    params = {"target": "make_subset", "mode": mode, "property": prop}
    verdict = get_kind("subset").score(context("subset", params, Observation(data=data, arrays=arrays), Observation()))
    assert verdict.fraction == 0 and "no readable record" in verdict.message


# --- pieces -----------------------------------------------------------------------------------------------------

def test_synthetic_labels_are_seeded_and_unequal() -> None:
    labels = synthetic_labels(5000, 3)
    assert np.array_equal(labels, synthetic_labels(5000, 3)) and not np.array_equal(labels, synthetic_labels(5000, 4))
    shares = np.bincount(labels, minlength=10) / 5000
    assert shares.min() > 0.03 and shares.max() < 0.18 and shares.max() - shares.min() > 0.05
    assert {len(labels_for(0, n)) for n in SIZES} == set(SIZES)


def test_synthetic_dataset_and_reading_parts() -> None:
    dataset = SyntheticImages(synthetic_labels(20, 0))
    image, label = dataset[np.int64(7)]
    assert image.shape == (3, 8, 8) and float(image[2, 7, 7]) == 7.0 and label == dataset.targets[7]
    assert float(dataset[-1][0][0, 0, 0]) == 19.0 and dataset.data.shape == (20, 8, 8, 3)
    with pytest.raises(IndexError):
        dataset[20]
    length, indices = read_part(Subset(Subset(dataset, [5, 6, 7, 8]), [3, 0]), "subset")
    assert length == 2 and indices.tolist() == [8, 5] and indices.dtype == np.int64


def test_params_validation() -> None:
    assert Params(target="f", mode="split", property="size").value() == 0.1
    assert Params(target="f", mode="subset", property="size").value() == 0.2
    assert Params(target="f", mode="subset", property="size", fraction=0.3).value() == 0.3
    for bad in ({"mode": "subset", "property": "disjoint_cover"}, {"mode": "split", "property": "size", "fraction": 1.5},
                {"mode": "split", "property": "nope"}):
        with pytest.raises(ValidationError):
            Params.model_validate({"target": "f", **bad})
    assert Params(target="f", mode="split", property="size").targets() == ["f"]
