"""Kind ``student_training``: the student's own ``train()`` trains the student's model on the grader's loaders.

Inside the sandbox the probe builds ``build(**init)`` and calls ``train(model, train_loader, val_loader,
epochs=, device=)``, then predicts with the grader's own code (``model.eval()``, no gradient). Two parts:

    fit_batch   train_loader repeats one fixed batch of ``fit_size`` training images ``steps_per_epoch`` times
                per epoch: can train() memorise it? (a short run that must learn, affordable on a CPU)
    holdout     train_loader covers the first ``train_size`` images of the grader's training split (augmented
                with random crops and flips when the budget says ``augment``): accuracy on hidden test images

Only logits and the returned histories cross the boundary. Accuracies are computed here against the grader's
own labels (training labels for fit_batch, the hidden test labels for holdout), held to the thresholds, and
drawn in the report (learning curves; the confusion matrix on the hidden test set).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from grader import figures, metrics
from grader.checks import histories
from grader.checks.base import Budget as BaseBudget
from grader.checks.base import Observation, ProbeContext, ScoreContext, Strict, Verdict


class Params(Strict):
    build: str = Field(description="the model factory, e.g. build_model")
    init: dict[str, Any] = Field(default_factory=dict)
    train: str = Field(description="the student's training function")
    dataset: str
    part: Literal["fit_batch", "holdout"]

    def targets(self) -> list[str]:
        return [self.build, self.train]


class Budget(BaseBudget):
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(64, ge=1)
    train_size: int = Field(0, ge=0, description="holdout: training images (0 means the whole training split)")
    val_size: int = Field(0, ge=0, description="validation images given to train() (0 means the whole split)")
    eval_size: int = Field(0, ge=0, description="holdout: hidden test images judged (0 means all)")
    fit_size: int = Field(20, ge=1, description="fit_batch: images in the fixed batch")
    steps_per_epoch: int = Field(5, ge=1, description="fit_batch: copies of the batch per epoch")
    augment: bool = Field(False, description="holdout: random crops and flips of the training batches")


class Thresholds(Strict):
    fit_accuracy: float | None = Field(None, ge=0, le=1, description="fit_batch: accuracy on the fixed batch")
    accuracy_vs_reference: float | None = Field(None, ge=0, description="holdout: >= this x the reference's accuracy")
    min_accuracy: float | None = Field(None, ge=0, le=1, description="holdout: an absolute bar, e.g. the seed's 80%")


def probe(ctx: ProbeContext) -> Observation:
    import torch
    from torch.utils.data import DataLoader

    from grader.checks.torch_helpers import to_numpy
    from grader.data.loaders import TensorSplit, already_collated
    from grader.sampling import derived_seed

    seed = derived_seed(ctx.seed, ctx.check_id)
    torch.manual_seed(seed)
    data, budget = ctx.dataset(ctx.params.dataset), ctx.budget
    val_loader = data.loader("val", batch_size=256, limit=budget.val_size, normalize=True)
    model = ctx.lookup(ctx.params.build)(**ctx.params.init)
    train = ctx.lookup(ctx.params.train)
    if ctx.params.part == "fit_batch":
        rows = data.positions("train", budget.fit_size)
        repeated = TensorSplit(data, np.tile(rows, budget.steps_per_epoch), normalize=True)
        loader = DataLoader(repeated, batch_size=len(rows), shuffle=False, collate_fn=already_collated)
    else:
        loader = data.loader("train", batch_size=budget.batch_size, shuffle=True, seed=seed, limit=budget.train_size,
                             normalize=True, augment=budget.augment)
    returned = histories.record(train(model, loader, val_loader, epochs=budget.epochs, device=ctx.device))
    model = model.to(ctx.device)
    arrays: dict[str, np.ndarray] = {}
    with torch.no_grad():
        if ctx.params.part == "fit_batch":
            x = data.to_tensor(np.asarray(data.train_x[rows]), normalize=True).to(ctx.device)
            model.train()  # batch statistics, as while fitting; eval mode is reported beside it
            arrays["logits_train_mode"] = to_numpy(model(x).float())
            model.eval()
            arrays["logits_eval_mode"] = to_numpy(model(x).float())
        else:
            model.eval()
            batches = data.eval_batches(256, budget.eval_size, normalize=True)
            arrays["logits"] = to_numpy(torch.cat([model(x.to(ctx.device)).float().cpu() for x in batches]))
    return Observation(data={**returned, "epochs": budget.epochs, "train_size": len(loader.dataset)}, arrays=arrays)


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return metrics.classification(np.asarray(logits, dtype=np.float64), labels)["accuracy"]


def score(ctx: ScoreContext) -> Verdict:
    truth, budget, t = ctx.truth[ctx.params.dataset], ctx.budget, ctx.thresholds
    bars: list[tuple[str, bool]] = []
    details: dict[str, Any] = {}
    figs = histories.chart("Your train()'s per-epoch histories", ctx.student.data)
    if ctx.params.part == "fit_batch":
        rows = truth["train_rows"][: budget.fit_size]
        labels = truth["train_y"][rows].astype(np.int64)
        acc = _accuracy(ctx.student.arrays.get("logits_train_mode", np.zeros((0,))), labels)
        acc_eval = _accuracy(ctx.student.arrays.get("logits_eval_mode", np.zeros((0,))), labels)
        details.update(accuracy=acc, accuracy_eval_mode=acc_eval)
        need = t.fit_accuracy if t.fit_accuracy is not None else 0.0
        bars.append((f"after {budget.epochs} x {budget.steps_per_epoch} steps on the same {len(labels)} images, "
                     f"{acc:.0%} of them are classified right (train mode; {acc_eval:.0%} in eval mode); "
                     f"needed {need:.0%}", acc >= need))
        summary = f"train() was given one fixed batch of {len(labels)} training images, {budget.steps_per_epoch} times per epoch."
    else:
        n = int(ctx.reference.arrays["logits"].shape[0])
        labels = truth["eval_y"][:n].astype(np.int64)
        logits = np.asarray(ctx.student.arrays.get("logits", np.zeros((0,))), dtype=np.float64)
        acc, ref_acc = _accuracy(logits, labels), _accuracy(ctx.reference.arrays["logits"], labels)
        details.update(accuracy=acc, reference=ref_acc)
        if t.accuracy_vs_reference is not None:
            need = t.accuracy_vs_reference * ref_acc
            bars.append((f"accuracy {acc:.1%} on {n} hidden test images; needed {need:.1%} "
                         f"({t.accuracy_vs_reference:g} x the reference's {ref_acc:.1%}, same budget)", acc >= need))
        if t.min_accuracy is not None:
            bars.append((f"accuracy {acc:.1%}; the assignment's bar is {t.min_accuracy:.0%}", acc >= t.min_accuracy))
        if metrics.logits_usable(logits, labels):
            classes = [str(c) for c in truth.get("classes", [])] or [str(i) for i in range(logits.shape[1])]
            matrix = metrics.confusion_matrix(labels, logits.argmax(axis=1), logits.shape[1]).tolist()
            details["confusion_matrix"] = matrix
            figs.append(figures.confusion_matrix("Confusion matrix on the hidden test images (rows: true class)",
                                                 classes, matrix))
        augmented = ", randomly cropped and flipped" if budget.augment else ""
        summary = (f"train() ran for {budget.epochs} epoch(s) on {ctx.student.data.get('train_size', '?')} training "
                   f"images{augmented}; the grader then judged the model on {n} hidden test images.")
    bars.append(histories.judge(ctx.student.data, budget.epochs))
    met = sum(ok for _, ok in bars)
    lines = [summary, *(f"- {'ok' if ok else 'NOT met'}: {text}" for text, ok in bars)]
    if met < len(bars) and ctx.hint:
        lines.append(f"Hint: {ctx.hint}")
    # The history is a courtesy bar: the points follow the accuracy bars, the history costs a share only.
    weights = [1.0] * (len(bars) - 1) + [0.25]
    fraction = sum(w for (_, ok), w in zip(bars, weights, strict=True) if ok) / sum(weights)
    return Verdict(fraction, "\n".join(lines), details, figures=figs)
