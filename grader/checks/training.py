"""Kind ``training``: the grader trains the submission's model with its own loop and judges held-out data.

Inside the sandbox the probe trains ``target(**init)`` on the grader's training split of the dataset
(the first ``train_size`` images of its seeded order; labels given) and returns the model's logits on the evaluation inputs before and after training. The evaluation
labels never enter the sandbox: loss and accuracy are computed here from those logits.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from grader import metrics
from grader.checks.base import Budget as BaseBudget
from grader.checks.base import Observation, ProbeContext, ScoreContext, Strict, Verdict


class Optimizer(Strict):
    name: Literal["sgd", "adam"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.0, ge=0)
    weight_decay: float = Field(0.0, ge=0)


class Params(Strict):
    target: str
    init: dict[str, Any] = Field(default_factory=dict)
    dataset: str
    batch_size: int = Field(64, ge=1)
    optimizer: Optimizer = Field(default_factory=Optimizer)

    def targets(self) -> list[str]:
        return [self.target]


class Budget(BaseBudget):
    epochs: int = Field(1, ge=1)
    train_size: int = Field(0, ge=0, description="0 means the whole training split")
    eval_size: int = Field(0, ge=0, description="0 means the whole evaluation split")


class Thresholds(Strict):
    loss_drop_vs_reference: float | None = Field(None, ge=0, description="held-out loss drop >= this x the reference's")
    accuracy_vs_reference: float | None = Field(None, ge=0, description="held-out accuracy >= this x the reference's")
    min_accuracy: float | None = Field(None, ge=0, le=1, description="an absolute bar, e.g. the seed's 80%")


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import to_numpy
    from grader.sampling import derived_seed

    seed = derived_seed(ctx.seed, ctx.check_id)
    torch.manual_seed(seed)
    data = ctx.dataset(ctx.params.dataset)
    budget = ctx.budget
    # The grader's split, converted one batch at a time from the shared read-only cache.
    loader = data.loader("train", batch_size=ctx.params.batch_size, shuffle=True, seed=seed,
                         limit=budget.train_size, normalize=True)
    model = ctx.lookup(ctx.params.target)(**ctx.params.init).to(ctx.device)
    before = predict(model, data, budget.eval_size, ctx.device)
    losses = fit(model, loader, ctx.params.optimizer, budget.epochs, ctx.device)
    after = predict(model, data, budget.eval_size, ctx.device)
    return Observation(
        data={"train_loss": losses, "epochs": budget.epochs, "train_size": len(loader.dataset), "eval_size": len(after)},
        arrays={"logits_before": to_numpy(before), "logits_after": to_numpy(after)},
    )


def fit(model: Any, loader: Any, opt_spec: Optimizer, epochs: int, device: str) -> list[float]:
    """The grader's own training loop (cross-entropy); returns the mean training loss of each epoch."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if opt_spec.name == "sgd":
        optimizer = torch.optim.SGD(params, lr=opt_spec.lr, momentum=opt_spec.momentum, weight_decay=opt_spec.weight_decay)
    else:
        optimizer = torch.optim.Adam(params, lr=opt_spec.lr, weight_decay=opt_spec.weight_decay)
    losses = []
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(yb)
            count += len(yb)
        losses.append(total / max(count, 1))
    return losses


def predict(model: Any, data: Any, limit: int, device: str) -> Any:
    """Logits on the first ``limit`` hidden evaluation images (all if 0); the labels are not in the sandbox."""
    import torch

    model.eval()
    with torch.no_grad():
        return torch.cat([model(x.to(device)).float().cpu() for x in data.eval_batches(256, limit, normalize=True)])


def held_out_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Cross-entropy and accuracy of ``logits`` against the hidden ``labels`` (trusted side)."""
    return metrics.classification(logits, labels)


def score(ctx: ScoreContext) -> Verdict:
    n = int(ctx.reference.arrays["logits_after"].shape[0])
    labels = ctx.truth[ctx.params.dataset]["eval_y"][:n].astype(np.int64)
    mine = {k: held_out_metrics(ctx.student.arrays.get(f"logits_{k}", np.zeros((0,))), labels) for k in ("before", "after")}
    ref = {k: held_out_metrics(ctx.reference.arrays[f"logits_{k}"], labels) for k in ("before", "after")}
    t = ctx.thresholds
    bars: list[tuple[str, bool]] = []
    # A starting loss is capped at ln(classes), the loss of knowing nothing: NaN or huge logits before
    # training must not make any finite loss afterwards look like a large drop.
    chance = math.log(ctx.reference.arrays["logits_after"].shape[1])
    drop = min(mine["before"]["loss"], chance) - mine["after"]["loss"]
    ref_drop = min(ref["before"]["loss"], chance) - ref["after"]["loss"]
    if t.loss_drop_vs_reference is not None:
        need = t.loss_drop_vs_reference * ref_drop
        bars.append((f"held-out loss fell by {drop:.3f} (from {mine['before']['loss']:.3f} to {mine['after']['loss']:.3f}); "
                     f"needed at least {need:.3f} ({t.loss_drop_vs_reference:g} x the reference's drop of {ref_drop:.3f})",
                     drop > 0 and drop >= need))
    acc, ref_acc = mine["after"]["accuracy"], ref["after"]["accuracy"]
    if t.accuracy_vs_reference is not None:
        need = t.accuracy_vs_reference * ref_acc
        bars.append((f"held-out accuracy {acc:.1%}; needed {need:.1%} ({t.accuracy_vs_reference:g} x the reference's {ref_acc:.1%})",
                     acc >= need))
    if t.min_accuracy is not None:
        bars.append((f"held-out accuracy {acc:.1%}; the assignment's bar is {t.min_accuracy:.0%}", acc >= t.min_accuracy))
    if not bars:
        bars.append(("training ran and produced finite predictions", np.isfinite(mine["after"]["loss"])))
    met = sum(ok for _, ok in bars)
    budget = ctx.budget
    summary = (f"Trained {ctx.params.target} with the grader's loop for {budget.epochs} epoch(s) on "
               f"{ctx.student.data.get('train_size', '?')} images; judged on {n} held-out images. "
               f"{met} of {len(bars)} bars met.")
    lines = [summary, *(f"- {'ok' if ok else 'NOT met'}: {text}" for text, ok in bars)]
    if met < len(bars) and ctx.hint:
        lines.append(f"Hint: {ctx.hint}")
    details = {"student": mine, "reference": ref, "train_loss": ctx.student.data.get("train_loss", [])}
    after = np.asarray(ctx.student.arrays.get("logits_after", np.zeros((0,))), dtype=np.float64)
    if metrics.logits_usable(after, labels):  # rows = true class, columns = predicted, on the hidden labels
        classes = ctx.reference.arrays["logits_after"].shape[1]
        details["confusion_matrix"] = metrics.confusion_matrix(labels, after.argmax(axis=1), classes).tolist()
    return Verdict(met / len(bars), "\n".join(lines), details)


