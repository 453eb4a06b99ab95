"""Kind ``transfer``: transfer learning judged step by step (build, pretrain, load, replace head, freeze, train).

``part`` picks the step a check judges; expensive steps run once per run and are shared by the checks that
judge them (``checks.base.shared_step``): the source model the grader pretrains on the student's
``build_model(source_classes)``, and each training variant (``scratch``, ``full_finetune``, ``head_only``),
whose ``behaviour`` (what happened to the weights) and ``accuracy`` (on the hidden target test split) two
checks may judge from one run. Sandbox side: ``transfer_steps.py``. Everything below ``score`` is trusted.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from grader.checks.base import Budget as BaseBudget
from grader.checks.base import Observation, ProbeContext, ScoreContext, Strict, Verdict
from grader.checks.training import Optimizer

Part = Literal["structure", "source", "load_pretrained", "replace_head", "freeze", "optimizer",
               "head_only", "full_finetune", "scratch"]
VARIANTS = ("head_only", "full_finetune", "scratch")
LABELS = {"head_only": "fine-tuning the head only", "full_finetune": "fine-tuning the whole network",
          "scratch": "training from scratch"}


class Names(Strict):
    """The interface names the steps call (defaults: the fashion_transfer assignment's)."""

    build: str = "build_model"
    train: str = "train"
    load_pretrained: str = "load_pretrained"
    replace_head: str = "replace_head"
    freeze_backbone: str = "freeze_backbone"
    make_optimizer: str = "make_optimizer"


USES: dict[str, tuple[str, ...]] = {
    "structure": ("build",), "source": ("build",), "load_pretrained": ("build", "load_pretrained"),
    "replace_head": ("build", "replace_head"), "freeze": ("build", "freeze_backbone"),
    "optimizer": ("build", "make_optimizer"), "scratch": ("build", "train"),
    "full_finetune": ("build", "replace_head", "make_optimizer", "train"),
    "head_only": ("build", "replace_head", "freeze_backbone", "make_optimizer", "train"),
}


class Params(Strict):
    part: Part
    judge: Literal["behaviour", "accuracy"] = Field("accuracy", description="for head_only / full_finetune")
    source_dataset: str
    target_dataset: str
    source_classes: int = Field(6, ge=2)
    target_classes: int = Field(10, ge=2)
    batch_size: int = Field(64, ge=1)
    source_optimizer: Optimizer = Field(default_factory=Optimizer, description="the grader's pretraining loop")
    names: Names = Field(default_factory=Names)

    @model_validator(mode="after")
    def _judge_fits_part(self) -> "Params":
        if self.judge == "behaviour" and self.part not in ("head_only", "full_finetune"):
            raise ValueError("judge: behaviour applies to parts head_only and full_finetune only (remove it)")
        return self

    def targets(self) -> list[str]:
        return [getattr(self.names, n) for n in USES[self.part]]


class Budget(BaseBudget):
    epochs: int = Field(1, ge=1, description="epochs of the student's train() on the target task")
    train_size: int = Field(0, ge=0, description="target training images (0: all)")
    eval_size: int = Field(0, ge=0, description="hidden test images judged (0: all)")
    source_epochs: int = Field(1, ge=1, description="epochs of the grader's pretraining on the source task")
    source_train_size: int = Field(0, ge=0, description="source training images (0: all)")


class Thresholds(Strict):
    accuracy_vs_reference: float | None = Field(None, ge=0, description="accuracy >= this x the reference's")
    min_accuracy: float | None = Field(None, ge=0, le=1, description="an absolute bar")


def probe(ctx: ProbeContext) -> Observation:
    from grader.checks import transfer_steps as steps

    part = ctx.params.part
    if part in VARIANTS:
        run = steps.variant(ctx, part)
        return Observation(data=run["record"], arrays={"logits": run["logits"]})
    return {"structure": _probe_structure, "source": _probe_source, "load_pretrained": _probe_load,
            "replace_head": _probe_replace_head, "freeze": _probe_freeze, "optimizer": _probe_optimizer}[part](ctx)


def _probe_structure(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import describe_exception, to_numpy
    from grader.checks.transfer_steps import sample_input

    build = ctx.lookup(ctx.params.names.build)  # outside the try: a missing name is reported as such
    x = sample_input(ctx)
    cases, arrays = [], {}
    for classes in (ctx.params.source_classes, ctx.params.target_classes):
        case: dict[str, Any] = {"classes": classes}
        try:
            model = build(classes).to(ctx.device).eval()
            backbone, head = getattr(model, "backbone", None), getattr(model, "head", None)
            case.update(backbone=type(backbone).__name__ if isinstance(backbone, torch.nn.Module) else None,
                        head=type(head).__name__ if isinstance(head, torch.nn.Module) else None)
            if isinstance(head, torch.nn.Linear):
                case.update(head_in=head.in_features, head_out=head.out_features)
            with torch.no_grad():
                out = model(x)
                case["output_shape"] = list(out.shape)
                arrays[f"c{classes}_out"] = to_numpy(out.float())
                if isinstance(backbone, torch.nn.Module) and isinstance(head, torch.nn.Module):
                    features = backbone(x)
                    case["features_shape"] = list(features.shape)
                    arrays[f"c{classes}_composed"] = to_numpy(head(features).float())
        except Exception as exc:
            case["error"] = describe_exception(exc)
        cases.append(case)
    return Observation(data={"cases": cases}, arrays=arrays)


def _probe_source(ctx: ProbeContext) -> Observation:
    from grader.checks.torch_helpers import to_numpy
    from grader.checks.training import predict
    from grader.checks.transfer_steps import source_model

    source = source_model(ctx)
    data = ctx.dataset(ctx.params.source_dataset)
    logits = predict(source["model"], data, ctx.budget.eval_size, ctx.device)
    return Observation(data={"losses": source["losses"], "train_size": source["train_size"]},
                       arrays={"logits": to_numpy(logits).astype(np.float32)})


def _probe_load(ctx: ProbeContext) -> Observation:
    from grader.checks.transfer_steps import digest, output_shape, sample_input, source_model

    source = source_model(ctx)
    loaded = ctx.lookup(ctx.params.names.load_pretrained)(source["path"])
    state = loaded.state_dict() if hasattr(loaded, "state_dict") else {}
    return Observation(data={
        "type": type(loaded).__name__, "checkpoint": {k: digest(v) for k, v in source["state"].items()},
        "loaded": {k: digest(v) for k, v in state.items()},
        "output_shape": output_shape(loaded.to(ctx.device), sample_input(ctx)) if callable(loaded) else None,
    })


def _probe_replace_head(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.transfer_steps import compare, fresh_source, output_shape, sample_input, snapshot

    model = fresh_source(ctx)
    head_in = model.head.in_features if isinstance(getattr(model, "head", None), torch.nn.Linear) else None
    before = snapshot(model)
    new = ctx.lookup(ctx.params.names.replace_head)(model, ctx.params.target_classes)
    head = getattr(new, "head", None)
    record: dict[str, Any] = {"head": type(head).__name__, "head_in_before": head_in, **compare(before, new)}
    if isinstance(head, torch.nn.Linear):
        record.update(head_in=head.in_features, head_out=head.out_features)
    record["output_shape"] = output_shape(new.to(ctx.device), sample_input(ctx))
    return Observation(data=record)


def _probe_freeze(ctx: ProbeContext) -> Observation:
    import torch

    model = ctx.lookup(ctx.params.names.build)(ctx.params.target_classes)
    model = ctx.lookup(ctx.params.names.freeze_backbone)(model)
    if not isinstance(model, torch.nn.Module):
        return Observation(data={"problem": f"freeze_backbone returned a {type(model).__name__}, not the model"})
    from grader.checks.transfer_steps import part_of

    return Observation(data={"params": [{"name": n, "part": part_of(n), "requires_grad": bool(p.requires_grad)}
                                        for n, p in model.named_parameters()]})


def _probe_optimizer(ctx: ProbeContext) -> Observation:
    from grader.checks.transfer_steps import optimizer_record

    records = {}
    for frozen in (True, False):  # the grader freezes the backbone itself: make_optimizer is judged alone
        model = ctx.lookup(ctx.params.names.build)(ctx.params.target_classes)
        if frozen:
            for param in model.backbone.parameters():
                param.requires_grad_(False)
        optimizer = ctx.lookup(ctx.params.names.make_optimizer)(model)
        records["frozen" if frozen else "unfrozen"] = optimizer_record(optimizer, model)
    return Observation(data=records)


def score(ctx: ScoreContext) -> Verdict:
    part = ctx.params.part
    from grader.checks import transfer_scoring as judge

    if part in VARIANTS and (part == "scratch" or ctx.params.judge == "accuracy"):
        return judge.accuracy(ctx, ctx.params.target_dataset, LABELS[part])
    return {"structure": judge.structure, "source": judge.source, "load_pretrained": judge.load_pretrained,
            "replace_head": judge.replace_head, "freeze": judge.freeze, "optimizer": judge.optimizer,
            "head_only": judge.head_only_behaviour, "full_finetune": judge.full_finetune_behaviour}[part](ctx)

