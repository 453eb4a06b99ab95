"""Kind ``subset``: ``split_dataset(dataset, val_fraction, seed)`` (mode ``split``) or ``make_subset(dataset, fraction,
seed)`` (mode ``subset``) picks the right images: ``disjoint_cover``, ``size``, ``unique``, ``seeded`` or ``balance``.

The probe calls the target with seeds 0, 0, 1, 7 on synthetic torchvision-style datasets whose image ``i`` is filled
with ``i``, and records which images each returned part holds (read by ``len()`` and indexing: any Subset works). The
calls run once per run for all checks of a target (``shared_step``); the trusted side judges, regenerating the labels.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from grader.checks.base import Budget, Observation, ProbeContext, ScoreContext, Strict, Verdict, all_raised, shared_step
from grader.checks.base import compose_message as compose
from grader.sampling import derived_seed

Budget = Budget
SIZES = (5000, 997)  # the synthetic datasets; balance is judged on the first
SEEDS = (0, 0, 1, 7)  # per dataset: the same seed twice, then two others
SCHEDULE = [(n, seed) for n in SIZES for seed in SEEDS]
CLASSES = 10
MAX_ITEMS = 20000  # items read from one returned part
PART_NAMES = {"split": ("training part", "validation part"), "subset": ("subset",)}


class Params(Strict):
    target: str
    mode: Literal["split", "subset"]
    property: Literal["disjoint_cover", "size", "unique", "seeded", "balance"]
    fraction: float | None = Field(None, gt=0, lt=1, description="fraction (subset) / val_fraction (split); "
                                                                 "default 0.2 / 0.1")

    @model_validator(mode="after")
    def _fits_mode(self) -> Params:
        if self.property == "disjoint_cover" and self.mode != "split":
            raise ValueError("property disjoint_cover needs mode 'split'")
        return self

    def targets(self) -> list[str]:
        return [self.target]

    def value(self) -> float:
        return self.fraction if self.fraction is not None else (0.1 if self.mode == "split" else 0.2)


class Thresholds(Strict):
    balance_tolerance: float = Field(0.05, gt=0, le=1, description="largest allowed |share in part - share in dataset|")


def synthetic_labels(n: int, seed: int) -> np.ndarray:
    """Labels of the synthetic dataset of ``n`` images: 10 classes of unequal sizes (about 5% to 15%)."""
    rng = np.random.default_rng(seed)
    weights = rng.permutation(np.linspace(0.05, 0.15, CLASSES))
    return rng.choice(CLASSES, size=n, p=weights / weights.sum()).astype(np.int64)


def labels_for(seed: int, n: int) -> np.ndarray:
    return synthetic_labels(n, derived_seed(seed, "subset-data", str(n)))


class SyntheticImages:
    """A torchvision-style dataset: item ``i`` is (a (3, 8, 8) float tensor filled with ``i``, ``targets[i]``)."""

    def __init__(self, labels: np.ndarray) -> None:
        self.targets = [int(v) for v in labels]
        self.classes = [f"class_{c}" for c in range(CLASSES)]
        self.data = np.zeros((len(labels), 8, 8, 3), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: Any) -> tuple[Any, int]:
        import torch

        i = int(index)  # Python, numpy and one-element torch integers
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for a dataset of {len(self)} images")
        i %= len(self)
        return torch.full((3, 8, 8), float(i)), self.targets[i]


class Unreadable(Exception):
    """What the target returned is not the (pair of) datasets of (image, label) items asked for."""


def _index_of(item: Any, what: str) -> int:
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise Unreadable(f"the items of the {what} are {type(item).__name__} objects, not (image, label) pairs")
    try:
        value = float(item[0].reshape(-1)[0])
    except Exception:
        raise Unreadable(f"the images of the {what} are {type(item[0]).__name__} objects, not the dataset's "
                         f"image tensors (return a torch.utils.data.Subset of the dataset)") from None
    if not value.is_integer():
        raise Unreadable(f"the {what} holds images that are not the dataset's (return a Subset of the dataset)")
    return int(value)


def read_part(part: Any, what: str) -> tuple[int, np.ndarray]:
    """``len(part)`` and the dataset index of each of its first :data:`MAX_ITEMS` items."""
    if isinstance(part, (str, bytes, dict)) or not hasattr(part, "__len__") or not hasattr(part, "__getitem__"):
        raise Unreadable(f"the {what} is of type {type(part).__name__}, not a dataset (a torch.utils.data.Subset)")
    length = len(part)
    return length, np.asarray([_index_of(part[k], what) for k in range(min(length, MAX_ITEMS))], dtype=np.int64)


def _calls(ctx: ProbeContext, fn: Any, fraction: float) -> Observation:
    from grader.checks.torch_helpers import describe_exception

    mode = ctx.params.mode
    keyword = "val_fraction" if mode == "split" else "fraction"
    calls: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for n, seed in SCHEDULE:
        k, labels = len(calls), labels_for(ctx.seed, n)
        record: dict[str, Any] = {"n": n, "seed": seed}
        try:
            value = fn(SyntheticImages(labels), **{keyword: fraction, "seed": seed})
            if mode == "split" and (not isinstance(value, (tuple, list)) or len(value) != 2):
                size = f" of {len(value)} items" if isinstance(value, (tuple, list)) else ""
                raise Unreadable(f"it returned an object of type {type(value).__name__}{size}, not a pair "
                                 "(train_subset, val_subset)")
            read = [read_part(part, what) for part, what in zip([value] if mode == "subset" else value,
                                                                PART_NAMES[mode], strict=True)]
            record["sizes"] = [length for length, _ in read]
            arrays.update({f"call{k}_part{j}": indices for j, (_, indices) in enumerate(read)})
        except Unreadable as exc:
            record["problem"] = str(exc)
        except Exception as exc:  # a student's error is an observation, not a crash
            record["error"] = describe_exception(exc)
        calls.append(record)
    return Observation(data={"calls": calls}, arrays=arrays)


def probe(ctx: ProbeContext) -> Observation:
    fn = ctx.lookup(ctx.params.target)
    fraction = ctx.params.value()
    key = f"subset:{ctx.params.target}:{ctx.params.mode}:{fraction}"
    return shared_step(ctx, key, lambda: _calls(ctx, fn, fraction))


# --- trusted side ----------------------------------------------------------------------------------------------

def _calls_seen(ctx: ScoreContext) -> list[dict[str, Any]]:
    """One entry per scheduled call: ``call`` (for messages), ``failure`` ("" when usable), ``sizes``, ``parts``."""
    p, raw = ctx.params, ctx.student.data.get("calls")
    raw = raw if isinstance(raw, list) else []
    keyword = "val_fraction" if p.mode == "split" else "fraction"
    out = []
    for k, (n, seed) in enumerate(SCHEDULE):
        seen = raw[k] if k < len(raw) and isinstance(raw[k], dict) else {}
        entry: dict[str, Any] = {"n": n, "seed": seed, "failure": "", "sizes": [], "parts": [],
                                 "call": f"{p.target}(<a dataset of {n} images>, {keyword}={p.value():g}, seed={seed})"}
        parts = [ctx.student.arrays.get(f"call{k}_part{j}") for j in range(len(PART_NAMES[p.mode]))]
        sizes = seen.get("sizes")
        if "error" in seen:
            entry["failure"] = f"{entry['call']} raised {str(seen['error'])[:500]}"
        elif "problem" in seen:
            entry["failure"] = f"{entry['call']}: {str(seen['problem'])[:500]}"
        elif (not isinstance(sizes, list) or len(sizes) != len(parts)
              or any(not isinstance(s, int) or isinstance(s, bool) for s in sizes)
              or any(not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in "iu" for a in parts)):
            entry["failure"] = f"{entry['call']}: the grader received no readable record of what it returned"
        else:
            entry["sizes"], entry["parts"] = sizes, [a.astype(np.int64) for a in parts]
        out.append(entry)
    return out


def _per_call(ctx: ScoreContext, calls: list[dict[str, Any]], judge: Any, did: str) -> tuple[float, str, list[str]]:
    """Every call must pass ``judge(ctx, call) -> problem or ""``."""
    problems = [p for c in calls if (p := c["failure"] or (f"{c['call']}: {f}" if (f := judge(ctx, c)) else ""))]
    summary = f"{len(calls) - len(problems)} of {len(calls)} calls {did}."
    return float(not problems), summary, list(dict.fromkeys(problems))  # the two calls with seed 0 may agree


def _cover(ctx: ScoreContext, c: dict[str, Any]) -> str:
    (train, val), n = c["parts"], c["n"]
    both, covered = len(np.intersect1d(train, val)), np.union1d(train, val)
    neither = n - int(np.count_nonzero((covered >= 0) & (covered < n)))
    twice = len(train) + len(val) - len(np.unique(train)) - len(np.unique(val))
    found = [f"{both} images are in both parts"] * bool(both) + [f"{neither} images are in neither"] * bool(neither)
    return "; ".join(found + [f"{twice} images appear more than once within a part"] * bool(twice))


def _size(ctx: ScoreContext, c: dict[str, Any]) -> str:
    f = ctx.params.value()
    n, exact = c["n"], f * c["n"]
    expected = f"expected {round(exact)} (round({f:g} x {n}))"
    if ctx.params.mode == "subset":
        size = c["sizes"][0]
        return "" if size in (round(exact), int(exact), math.ceil(exact)) else f"returned {size} images; {expected}"
    train, val = c["sizes"]
    if abs(val - exact) > 1 + 1e-9:
        swapped = " (the parts look swapped: return (train_subset, val_subset))" if abs(train - exact) <= 1 else ""
        return f"returned a validation part of {val} images; {expected}{swapped}"
    return "" if train + val == n else f"returned parts of {train} + {val} = {train + val} images; expected all {n}"


def _unique(ctx: ScoreContext, c: dict[str, Any]) -> str:
    found = []
    for what, size, part in zip(PART_NAMES[ctx.params.mode], c["sizes"], c["parts"], strict=True):
        distinct = np.unique(part)
        outside = int(np.count_nonzero((distinct < 0) | (distinct >= c["n"])))
        if len(distinct) < len(part) or outside:
            found.append(f"the {what} of {size} images holds only {len(distinct)} distinct images"
                         + (f" ({outside} indices are outside the dataset)" if outside else ""))
    return "; ".join(found)


def _seeded(ctx: ScoreContext, calls: list[dict[str, Any]]) -> tuple[float, str, list[str]]:
    key, what = len(PART_NAMES[ctx.params.mode]) - 1, PART_NAMES[ctx.params.mode][-1]
    bars, problems = [True, True, True], list(dict.fromkeys(c["failure"] for c in calls if c["failure"]))
    for n in SIZES:
        ok = {c["seed"]: c for c in calls if c["n"] == n and not c["failure"]}
        same = [c for c in calls if c["n"] == n and c["seed"] == 0]
        if any(c["failure"] for c in same):
            bars[0] = False
        elif any(not np.array_equal(np.sort(a), np.sort(b))
                 for a, b in zip(same[0]["parts"], same[1]["parts"], strict=True)):
            bars[0] = False
            problems.append(f"two calls with seed=0 on the same {n}-image dataset returned different images "
                            "(the same seed must give the same result)")
        sets = {s: set(ok[s]["parts"][key].tolist()) for s in (0, 1, 7) if s in ok}
        same_sets = [(a, b) for a, b in ((0, 1), (0, 7), (1, 7)) if a in sets and b in sets and sets[a] == sets[b]]
        bars[1] = bars[1] and len(sets) == 3 and not same_sets
        if same_sets:
            problems.append(f"seed={same_sets[0][0]} and seed={same_sets[0][1]} gave the same {what} on the "
                            f"{n}-image dataset (use the seed to draw the images)")
    blocks = [(c, part) for c in calls if not c["failure"] and len(part := np.unique(c["parts"][key])) > 1
              and part[-1] - part[0] + 1 == len(part)]
    if blocks:
        bars[2] = False
        (c, part), more = blocks[0], f" (and in {len(blocks) - 1} more calls)" if len(blocks) > 1 else ""
        where = ("the first" if part[0] == 0 else "the last" if part[-1] == c["n"] - 1 else "a block of")
        problems.append(f"{c['call']}: the {what} is {where} {len(part)} consecutive images "
                        f"({part[0]}..{part[-1]}), not a random choice{more}")
    if all(c["failure"] for c in calls):
        bars = [False, False, False]
    yes = ["yes" if bar else "no" for bar in bars]
    summary = (f"{sum(bars)} of 3 requirements met: the same seed gives the same images ({yes[0]}), other seeds "
               f"give other images ({yes[1]}), the images are not a block of consecutive ones ({yes[2]}).")
    return sum(bars) / 3, summary, problems


def _balance(ctx: ScoreContext, calls: list[dict[str, Any]]) -> tuple[float, str, list[str]]:
    c, tol = calls[0], ctx.thresholds.balance_tolerance
    if c["failure"]:
        return 0.0, "The class proportions could not be judged.", [c["failure"]]
    labels = labels_for(ctx.seed, c["n"])
    dataset = np.bincount(labels, minlength=CLASSES) / len(labels)
    worst, problems = 0.0, []
    for what, part in reversed(list(zip(PART_NAMES[ctx.params.mode], c["parts"], strict=True))):
        part = part[(part >= 0) & (part < c["n"])]
        if not len(part):
            problems.append(f"{c['call']}: the {what} is empty")
            continue
        share = np.bincount(labels[part], minlength=CLASSES) / len(part)
        diff = np.abs(share - dataset)
        worst = max(worst, float(diff.max()))
        problems += [f"class {k} makes up {share[k]:.1%} of the {what} but {dataset[k]:.1%} of the dataset"
                     for k in np.argsort(-diff) if diff[k] > tol]
    summary = (f"{c['call']}: the largest difference between a class's share in a part and in the dataset is "
               f"{worst:.1%} (allowed {tol:.1%}).")
    return float(not problems), summary, problems


def score(ctx: ScoreContext) -> Verdict:
    calls, prop = _calls_seen(ctx), ctx.params.property
    per_call = {"disjoint_cover": (_cover, "returned two disjoint parts holding every image once"),
                "size": (_size, "returned parts of the expected size"), "unique": (_unique, "returned no image twice")}
    if prop in per_call:
        fraction, summary, problems = _per_call(ctx, calls, *per_call[prop])
    else:
        fraction, summary, problems = (_seeded if prop == "seeded" else _balance)(ctx, calls)
    failed = fraction < 1.0 - 1e-9
    details = {"calls": len(calls), "usable_calls": sum(not c["failure"] for c in calls),
               "sizes": [c["sizes"] for c in calls]}
    return Verdict(fraction, compose(summary, problems, ctx.hint, failed=failed), details,
                   errored=all_raised(ctx.student.data.get("calls")))
