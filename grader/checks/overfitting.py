"""Kind ``overfitting``: the baseline overfits a small subset; the regularized model overfits less.

Inside the sandbox, once per run (shared by the checks of this kind), for each of ``baseline`` and ``regularized``:
build the model, ``optimizer = make_optimizer(model, regularized=...)``, and call the student's
``train(model, train_loader, val_loader, epochs=, device=, optimizer=)`` where train_loader covers the grader's
own random ``fraction`` of its training split (the first ``subset_size`` of it under a budget) through the
student's ``train_transform()`` (regularized run) or ``eval_transform()`` (baseline run), and val_loader the
first ``val_size`` validation images through ``eval_transform()``. The grader then predicts (eval mode, no
gradient, ``eval_transform()``) on those same subset images and validation images.

Here, from those logits and the grader's labels, the train-minus-validation accuracy gap of each run is
computed and judged (the gap, not the accuracy: regularization need not raise accuracy in a short budget):

    baseline   the baseline's gap >= gap_vs_reference x the reference baseline's gap (it overfits)
    compare    the regularized gap <= gap_ratio x the student's own baseline gap
    history    train() returned per-epoch train_acc and val_acc lists for both runs
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from grader import figures, metrics
from grader.checks import histories
from grader.checks.base import Budget as BaseBudget
from grader.checks.base import Observation, ProbeContext, ScoreContext, Strict, Verdict, shared_step
from grader.sampling import derived_seed

RUNS = ("baseline", "regularized")
REQUIRED_HISTORIES = ["train_acc", "val_acc"]


class Params(Strict):
    dataset: str
    fraction: float = Field(0.2, gt=0, le=1, description="share of the training split the grader trains on")
    baseline: str
    regularized: str
    train: str
    optimizer: str
    train_transform: str
    eval_transform: str
    part: Literal["baseline", "compare", "history"]

    def targets(self) -> list[str]:
        return [self.baseline, self.regularized, self.train, self.optimizer, self.train_transform, self.eval_transform]


class Budget(BaseBudget):
    epochs: int = Field(10, ge=1)
    subset_size: int = Field(0, ge=0, description="train on the first this many images of the subset (0: all)")
    val_size: int = Field(0, ge=0, description="validation images (0: the whole validation split)")
    batch_size: int = Field(64, ge=1)


class Thresholds(Strict):
    gap_vs_reference: float | None = Field(None, ge=0, description="baseline: gap >= this x the reference baseline's")
    gap_ratio: float | None = Field(None, ge=0, description="compare: regularized gap <= this x the baseline's")


def subset_rows(train_rows: np.ndarray, fraction: float, size: int, seed: int) -> np.ndarray:
    """The grader's random ``fraction`` of the training split (the first ``size`` of it when size > 0)."""
    count = round(fraction * len(train_rows))
    chosen = np.random.default_rng(derived_seed(seed, "overfitting-subset")).permutation(train_rows)[:count]
    return chosen[:size] if size else chosen


def probe(ctx: ProbeContext) -> Observation:
    params, budget = ctx.params, ctx.budget
    key = f"overfitting:{params.dataset}:{budget.model_dump_json()}"
    runs = {"baseline": shared_step(ctx, f"{key}:baseline", lambda: _run(ctx, "baseline"))}
    if params.part != "baseline":
        runs["regularized"] = shared_step(ctx, f"{key}:regularized", lambda: _run(ctx, "regularized"))
    data = {name: run["data"] for name, run in runs.items()}
    arrays = {f"{name}_{k}": v for name, run in runs.items() for k, v in run["arrays"].items()}
    return Observation(data={"runs": data, "epochs": budget.epochs}, arrays=arrays)


def _run(ctx: ProbeContext, which: str) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader

    from grader.checks.torch_helpers import to_numpy

    params, budget = ctx.params, ctx.budget
    seed = derived_seed(ctx.seed, "overfitting", which)
    torch.manual_seed(seed)
    data = ctx.dataset(params.dataset)
    rows = subset_rows(data.positions("train"), params.fraction, budget.subset_size, ctx.seed)
    regularized = which == "regularized"
    eval_t = ctx.lookup(params.eval_transform)()
    train_t = ctx.lookup(params.train_transform)() if regularized else eval_t
    train_set = data.vision_dataset("train", train_t, rows=rows)
    val_set = data.vision_dataset("val", eval_t, limit=budget.val_size)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=budget.batch_size, shuffle=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=256)
    model = ctx.lookup(getattr(params, which))()
    optimizer = ctx.lookup(params.optimizer)(model, regularized=regularized)
    returned = histories.record(ctx.lookup(params.train)(model, train_loader, val_loader, epochs=budget.epochs,
                                                         device=ctx.device, optimizer=optimizer))
    model = model.to(ctx.device).eval()
    measured = data.vision_dataset("train", eval_t, rows=rows)
    arrays = {}
    with torch.no_grad():
        for name, dataset in (("logits_subset", measured), ("logits_val", val_set)):
            outs = [model(x.to(ctx.device)).float().cpu() for x, _ in DataLoader(dataset, batch_size=256)]
            arrays[name] = to_numpy(torch.cat(outs))
    return {"data": {**returned, "train_size": len(rows)}, "arrays": arrays}


def _gaps(obs: Observation, truth: dict[str, np.ndarray], params: Params, budget: Budget, seed: int) -> dict[str, Any]:
    """Per run: train (subset) accuracy, validation accuracy and their gap, from the grader's labels."""
    rows = subset_rows(truth["train_rows"], params.fraction, budget.subset_size, seed)
    val_rows = truth["val_rows"][: budget.val_size or None]
    out: dict[str, Any] = {}
    for run in RUNS:
        if f"{run}_logits_subset" not in obs.arrays:
            continue
        train_acc = metrics.classification(obs.arrays[f"{run}_logits_subset"], truth["train_y"][rows].astype(np.int64))
        val_acc = metrics.classification(obs.arrays[f"{run}_logits_val"], truth["train_y"][val_rows].astype(np.int64))
        out[run] = {"train_acc": train_acc["accuracy"], "val_acc": val_acc["accuracy"],
                    "gap": train_acc["accuracy"] - val_acc["accuracy"]}
    return out


def score(ctx: ScoreContext) -> Verdict:
    params, budget, t = ctx.params, ctx.budget, ctx.thresholds
    mine = _gaps(ctx.student, ctx.truth[params.dataset], params, budget, ctx.seed)
    bars: list[tuple[str, bool]] = []
    shown = {run: f"{run}: train {g['train_acc']:.1%}, validation {g['val_acc']:.1%}, gap {g['gap']:+.1%}"
             for run, g in mine.items()}
    if params.part == "baseline":
        ref = _gaps(ctx.reference, ctx.truth[params.dataset], params, budget, ctx.seed)["baseline"]["gap"]
        need = (t.gap_vs_reference or 0.0) * ref
        bars.append((f"{shown['baseline']}; an overfitting baseline needs a gap of at least {need:.1%} "
                     f"({t.gap_vs_reference:g} x the reference baseline's {ref:.1%}, same budget)",
                     mine["baseline"]["gap"] >= need and mine["baseline"]["gap"] > 0))
    elif params.part == "compare":
        base, reg = mine["baseline"]["gap"], mine["regularized"]["gap"]
        ratio = t.gap_ratio if t.gap_ratio is not None else 1.0
        bars.append((f"{shown['regularized']}; needed a gap of at most {max(ratio * base, 0):.1%} "
                     f"({ratio:g} x your baseline's {base:+.1%})", base > 0 and reg <= ratio * base))
    else:
        for run in RUNS:
            text, ok = histories.judge(ctx.student.data["runs"].get(run, {}), budget.epochs, REQUIRED_HISTORIES)
            bars.append((f"{run} run: {text}", ok))
    met = sum(ok for _, ok in bars)
    sizes = ctx.student.data["runs"]["baseline"].get("train_size", "?")
    summary = (f"Your train() ran {budget.epochs} epoch(s) on the grader's random {params.fraction:.0%} subset "
               f"({sizes} images); the grader measured each model's accuracy on those images and on "
               f"{len(ctx.truth[params.dataset]['val_rows'][: budget.val_size or None])} validation images.")
    lines = [summary, *(f"- {'ok' if ok else 'NOT met'}: {text}" for text, ok in bars)]
    if met < len(bars) and ctx.hint:
        lines.append(f"Hint: {ctx.hint}")
    figs = _figures(ctx, mine) if params.part == "compare" else []  # both runs' curves, drawn once
    flat = {f"{run}_{k}": float(v) for run, g in mine.items() for k, v in g.items()}  # calibration records floats
    return Verdict(met / len(bars), "\n".join(lines), {"measured": mine, **flat}, figures=figs)


def _figures(ctx: ScoreContext, mine: dict[str, Any]) -> list[dict[str, Any]]:
    figs: list[dict[str, Any]] = []
    series = []
    for run in RUNS:
        returned = ctx.student.data["runs"].get(run, {}).get("histories")
        if isinstance(returned, dict):
            series += [(f"{run} {k}", returned[k]) for k in REQUIRED_HISTORIES if isinstance(returned.get(k), list)]
    if series:
        figs.append(figures.line_chart("Train and validation accuracy per epoch, as your train() returned them",
                                       series, y_label="accuracy"))
    rows = [[run, g["train_acc"], g["val_acc"], g["gap"]] for run, g in mine.items()]
    figs.append(figures.table("Measured by the grader after training", ["run", "train accuracy", "validation accuracy",
                                                                         "gap"], rows))
    return figs
