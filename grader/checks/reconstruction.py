"""Kind ``reconstruction``: an autoencoder trained by the student's own ``train()`` reconstructs hidden images.

Inside the sandbox the probe builds ``target(**init)``, calls ``train(model, loader, epochs=, device=)`` with
the grader's loader over its training split (images in [0, 1], labels ignored), and returns the model's
reconstructions of the first ``eval_size`` hidden evaluation images plus the loss history train() returned.

Here, in the trusted process, the reconstruction error is computed against the grader's own copy of those
images and held to three bars: a multiple of the reference's error (same budget, same data), a PCA with as
many components as the code (fitted by the grader on the same training images), and a loss history that is
finite and falls. The report shows a grid of hidden images and their reconstructions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from grader import metrics
from grader.baselines import pca_baseline
from grader.checks.base import Budget as BaseBudget
from grader.checks.base import Observation, ProbeContext, ScoreContext, Strict, Verdict, judge_history


class Params(Strict):
    target: str = Field(description="the autoencoder class, e.g. Autoencoder")
    init: dict[str, Any] = Field(default_factory=dict)
    train: str = Field(description="the student's training function, e.g. train")
    dataset: str
    batch_size: int = Field(128, ge=1)
    code_size: int | str = Field(description="PCA components for the baseline: a number, or '$name' from init")
    grid: int = Field(10, ge=0, le=16, description="hidden images shown with their reconstructions in the report")

    @model_validator(mode="after")
    def _code_size_known(self) -> "Params":
        if isinstance(self.code_size, str) and self.code_size.removeprefix("$") not in self.init:
            raise ValueError(f"code_size {self.code_size!r} names no key of init (use a number or '$<init key>')")
        return self

    def targets(self) -> list[str]:
        return [self.target, self.train]

    def components(self) -> int:
        value = self.code_size
        return int(self.init[value[1:]]) if isinstance(value, str) else int(value)


class Budget(BaseBudget):
    epochs: int = Field(2, ge=1)
    train_size: int = Field(0, ge=0, description="0 means the whole training split")
    eval_size: int = Field(0, ge=0, description="0 means the whole evaluation split")


class Thresholds(Strict):
    mse_vs_reference: float | None = Field(None, gt=0, description="error <= this x the reference's")
    mse_vs_pca: float | None = Field(None, gt=0, description="error <= this x the PCA baseline's")
    loss_falls: bool = Field(True, description="train() must return one finite loss per epoch, falling")


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import loss_history, to_numpy
    from grader.sampling import derived_seed

    seed = derived_seed(ctx.seed, ctx.check_id)
    torch.manual_seed(seed)
    data = ctx.dataset(ctx.params.dataset)
    budget = ctx.budget
    loader = data.loader("train", batch_size=ctx.params.batch_size, shuffle=True, seed=seed, limit=budget.train_size)
    model = ctx.lookup(ctx.params.target)(**ctx.params.init)
    train = ctx.lookup(ctx.params.train)
    record = loss_history(train(model, loader, epochs=budget.epochs, device=ctx.device))
    model = model.to(ctx.device).eval()
    outputs = []
    with torch.no_grad():
        for x in data.eval_batches(256, budget.eval_size):
            y = model(x.to(ctx.device))
            outputs.append(to_numpy(y.float()).reshape(len(x), -1))  # a wrong size still crosses; judged there
    recon = np.concatenate(outputs).astype(np.float32)
    record.update(train_size=len(loader.dataset), eval_size=len(recon), output_shape=list(y.shape))
    return Observation(data=record, arrays={"reconstructions": recon})


def score(ctx: ScoreContext) -> Verdict:
    truth = ctx.truth[ctx.params.dataset]
    reference = ctx.reference.arrays["reconstructions"]
    n = int(reference.shape[0])
    originals = truth["eval_x"][:n].reshape(n, -1).astype(np.float64) / 255.0
    mine = np.asarray(ctx.student.arrays.get("reconstructions", np.zeros((0,))), dtype=np.float64)
    mse = metrics.reconstruction_mse(originals, mine)
    ref_mse = metrics.reconstruction_mse(originals, reference)
    budget, t = ctx.budget, ctx.thresholds
    train_images = truth["train_x"][truth["train_rows"][: budget.train_size or None]]
    components = ctx.params.components()
    pca_mse = pca_baseline(train_images, truth["eval_x"][:n], components)
    shown = "not comparable (wrong size or NaN)" if not np.isfinite(mse) else f"{mse:.5f}"
    bars: list[tuple[str, bool]] = []
    if t.mse_vs_reference is not None:
        need = t.mse_vs_reference * ref_mse
        bars.append((f"reconstruction error (MSE per pixel) {shown}; allowed at most {need:.5f} "
                     f"({t.mse_vs_reference:g} x the reference's {ref_mse:.5f})", bool(mse <= need)))
    if t.mse_vs_pca is not None:
        need = t.mse_vs_pca * pca_mse
        bars.append((f"reconstruction error {shown}; a PCA with {components} components (fitted by the grader on the "
                     f"same {len(train_images)} training images) reaches {pca_mse:.5f}; allowed at most {need:.5f}",
                     bool(mse <= need)))
    if t.loss_falls:
        bars.append(judge_history(ctx.student.data, budget.epochs))
    met = sum(ok for _, ok in bars)
    summary = (f"Trained {ctx.params.target}({', '.join(f'{k}={v!r}' for k, v in ctx.params.init.items())}) with your "
               f"{ctx.params.train}() for {budget.epochs} epoch(s) on {ctx.student.data.get('train_size', '?')} images; "
               f"judged on {n} hidden images. {met} of {len(bars)} bars met.")
    lines = [summary, *(f"- {'ok' if ok else 'NOT met'}: {text}" for text, ok in bars)]
    if mine.size and np.all(np.isfinite(mine)) and (mine.min() < -0.01 or mine.max() > 1.01):
        lines.append(f"- note: your reconstructions range over [{mine.min():.3g}, {mine.max():.3g}], while pixels are "
                     "in [0, 1]: is a final sigmoid missing?")
    if met < len(bars) and ctx.hint:
        lines.append(f"Hint: {ctx.hint}")
    details = {"mse": mse if np.isfinite(mse) else None, "reference_mse": ref_mse, "pca_mse": pca_mse,
               "history": ctx.student.data.get("history")}
    grid = _grid(ctx, originals, mine, reference)
    return Verdict(met / len(bars), "\n".join(lines), details, figures=[grid] if grid else [])


def _grid(ctx: ScoreContext, originals: np.ndarray, mine: np.ndarray, reference: np.ndarray) -> dict[str, Any] | None:
    """Hidden images, the student's reconstructions and the reference's, one row each."""
    from grader import figures

    k = min(ctx.params.grid, len(originals))
    side = int(round(originals.shape[1] ** 0.5))
    if k == 0 or side * side != originals.shape[1]:
        return None
    rows = [originals[:k].reshape(k, side, side)]
    labels = ["hidden test images"]
    if mine.size == originals.size:
        rows.append(mine.reshape(originals.shape)[:k].reshape(k, side, side))
        labels.append("your reconstructions")
    rows.append(reference[:k].astype(np.float64).reshape(k, side, side))
    labels.append("the reference's reconstructions")
    try:  # a picture that cannot be drawn must not cost the check its points
        return figures.image_grid(rows, labels, title="Hidden test images and their reconstructions")
    except ValueError:
        return None
