"""Trusted side of the ``transfer`` kind: each step's observation judged against the interface's contract.

Weights are compared by the digests of their bytes (bit-identical or not), never by anything the run
concluded itself; accuracies are computed here from logits and the hidden labels only the grader holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader import metrics
from grader.checks.base import ScoreContext, Verdict, all_raised, compose_message, judge_history


def _bars(summary: str, bars: list[tuple[str, bool]], ctx: ScoreContext, notes: list[str] | None = None,
          details: dict[str, Any] | None = None) -> Verdict:
    met = sum(ok for _, ok in bars)
    lines = [f"{summary} {met} of {len(bars)} requirements met.",
             *(f"- {'ok' if ok else 'NOT met'}: {text}" for text, ok in bars), *(notes or [])]
    if met < len(bars) and ctx.hint:
        lines.append(f"Hint: {ctx.hint}")
    return Verdict(met / len(bars) if bars else 0.0, "\n".join(lines), details or {})


def _names(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def structure(ctx: ScoreContext) -> Verdict:
    good, problems = 0, []
    for case in ctx.student.data["cases"]:
        k = int(case["classes"])
        call = f"{ctx.params.names.build}({k})"
        if "error" in case:
            problems.append(f"{call} raised {case['error']}")
            continue
        wrong = []
        if case.get("backbone") is None:
            wrong.append("has no `backbone` attribute that is an nn.Module")
        if case.get("head") != "Linear":
            wrong.append(f"its `head` is {case.get('head') or 'missing'}, not an nn.Linear")
        elif int(case.get("head_out", -1)) != k:
            wrong.append(f"its head has {case.get('head_out')} outputs, not {k}")
        shape = [int(d) for d in case.get("output_shape", [])]
        if len(shape) != 2 or shape[1] != k:
            wrong.append(f"returns shape {tuple(shape)}, not (N, {k}) logits")
        out, composed = ctx.student.arrays.get(f"c{k}_out"), ctx.student.arrays.get(f"c{k}_composed")
        if out is not None and composed is not None and not (
                out.shape == composed.shape and np.allclose(out, composed, rtol=1e-4, atol=1e-5)):
            wrong.append("its output is not head(backbone(x)), so replacing the head would not change the model")
        if wrong:
            problems.append(f"{call} " + "; ".join(wrong))
        else:
            good += 1
    total = len(ctx.student.data["cases"])
    summary = f"{good} of {total} models have a `backbone`, an nn.Linear `head` and return head(backbone(x)) logits."
    return Verdict(good / total, compose_message(summary, problems, ctx.hint), errored=all_raised(ctx.student.data["cases"]))


def accuracy(ctx: ScoreContext, dataset: str, label: str) -> Verdict:
    """Accuracy on the hidden test split against the thresholds; the loss history for the learning curves."""
    reference = ctx.reference.arrays["logits"]
    n = int(reference.shape[0])
    labels = ctx.truth[dataset]["eval_y"][:n].astype(np.int64)
    logits = np.asarray(ctx.student.arrays.get("logits", np.zeros((0,))), dtype=np.float64)
    acc = metrics.classification(logits, labels)["accuracy"]
    ref_acc = metrics.classification(reference, labels)["accuracy"]
    t = ctx.thresholds
    bars, needed = [], 0.0
    if t.accuracy_vs_reference is not None:
        needed = max(needed, t.accuracy_vs_reference * ref_acc)
        bars.append((f"accuracy {acc:.1%} on {n} hidden test images; needed {t.accuracy_vs_reference * ref_acc:.1%} "
                     f"({t.accuracy_vs_reference:g} x the reference's {ref_acc:.1%})", acc >= t.accuracy_vs_reference * ref_acc))
    if t.min_accuracy is not None:
        needed = max(needed, t.min_accuracy)
        bars.append((f"accuracy {acc:.1%}; the assignment's bar is {t.min_accuracy:.0%}", acc >= t.min_accuracy))
    if not bars:
        bars.append((f"accuracy {acc:.1%} on {n} hidden test images (no bar set)", bool(logits.size)))
    history = ctx.student.data.get("history") if "losses" not in ctx.student.data else ctx.student.data["losses"]
    who = "the grader's own loop" if ctx.params.part == "source" else f"your {ctx.params.names.train}()"
    summary = (f"After {label} ({ctx.budget.epochs if ctx.params.part != 'source' else ctx.budget.source_epochs} "
               f"epoch(s) with {who} on {ctx.student.data.get('train_size', '?')} images):")
    details: dict[str, Any] = {"accuracy": acc, "reference_accuracy": ref_acc, "history": history,
                               "table_row": {"accuracy": f"{acc:.1%}", "reference": f"{ref_acc:.1%}",
                                             "needed": f"{needed:.1%}" if needed else None}}
    if metrics.logits_usable(logits, labels):
        details["confusion_matrix"] = metrics.confusion_matrix(labels, logits.argmax(axis=1), reference.shape[1]).tolist()
    return _bars(summary, bars, ctx, details=details)


def source(ctx: ScoreContext) -> Verdict:
    return accuracy(ctx, ctx.params.source_dataset,
                    f"the grader trained your {ctx.params.names.build}({ctx.params.source_classes}) on the source task")


def load_pretrained(ctx: ScoreContext) -> Verdict:
    data = ctx.student.data
    checkpoint, loaded = data["checkpoint"], data.get("loaded", {})
    missing = [k for k in checkpoint if k not in loaded]
    differ = [k for k in checkpoint if k in loaded and loaded[k] != checkpoint[k]]
    same = len(checkpoint) - len(missing) - len(differ)
    fn = ctx.params.names.load_pretrained
    bars = [(f"{same} of {len(checkpoint)} tensors of the checkpoint are reproduced bit for bit"
             + (f"; differing: {_names(differ)}" if differ else "") + (f"; absent: {_names(missing)}" if missing else ""),
             not missing and not differ)]
    shape = [int(d) for d in data.get("output_shape") or []]
    k = ctx.params.source_classes
    bars.append((f"the loaded model returns shape {tuple(shape)} (expected (N, {k}))", len(shape) == 2 and shape[1] == k))
    notes = []
    if differ and len(differ) == len(checkpoint):
        notes.append("None of the weights match: was anything loaded at all? load_state_dict(..., strict=False) "
                     "silently skips every key that does not match; use the default strict=True.")
    return _bars(f"{fn}(path) on the checkpoint the grader saved from your {ctx.params.names.build}({k}):", bars, ctx, notes)


def _backbone_unchanged(params: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Backbone parameters that are new or changed, and those that kept their bytes."""
    backbone = [p for p in params if p["part"] == "backbone"]
    changed = [p["name"] for p in backbone if p.get("before") is None or p["before"] != p["after"]]
    return changed, [p["name"] for p in backbone if p["name"] not in changed]


def replace_head(ctx: ScoreContext) -> Verdict:
    data = ctx.student.data
    k = ctx.params.target_classes
    fn = ctx.params.names.replace_head
    changed, kept = _backbone_unchanged(data["params"])
    bars = [
        (f"the new head is {data.get('head')} with {data.get('head_in')} inputs and {data.get('head_out')} outputs "
         f"(expected an nn.Linear with {data.get('head_in_before')} inputs and {k} outputs)",
         data.get("head") == "Linear" and data.get("head_out") == k and data.get("head_in") == data.get("head_in_before")),
        (f"the model returns shape {tuple(data.get('output_shape') or [])} (expected (N, {k}))",
         len(data.get("output_shape") or []) == 2 and data["output_shape"][1] == k),
        (f"{len(kept)} backbone parameters kept their pretrained values bit for bit"
         + (f"; {len(changed)} changed or were replaced: {_names(changed)}" if changed else ""), bool(kept) and not changed),
    ]
    return _bars(f"{fn}(model, {k}) on the pretrained {ctx.params.source_classes}-class model:", bars, ctx)


def freeze(ctx: ScoreContext) -> Verdict:
    if "problem" in ctx.student.data:
        return Verdict(0.0, compose_message(ctx.student.data["problem"], [], ctx.hint, failed=True))
    params = ctx.student.data["params"]
    trainable_backbone = [p["name"] for p in params if p["part"] == "backbone" and p["requires_grad"]]
    frozen_head = [p["name"] for p in params if p["part"] == "head" and not p["requires_grad"]]
    n_backbone = sum(p["part"] == "backbone" for p in params)
    bars = [(f"{n_backbone - len(trainable_backbone)} of {n_backbone} backbone parameters have requires_grad=False"
             + (f"; still trainable: {_names(trainable_backbone)}" if trainable_backbone else ""),
             n_backbone > 0 and not trainable_backbone),
            ("the head's parameters stay trainable" + (f"; frozen: {_names(frozen_head)}" if frozen_head else ""),
             not frozen_head and any(p["part"] == "head" for p in params))]
    return _bars(f"{ctx.params.names.freeze_backbone}(model):", bars, ctx)


def optimizer(ctx: ScoreContext) -> Verdict:
    bars = []
    for case, title in (("frozen", "with the backbone frozen (by the grader)"), ("unfrozen", "with nothing frozen")):
        record = ctx.student.data[case]
        if not record.get("is_optimizer"):
            bars.append((f"{title}: returned a {record.get('type')}, not a torch.optim.Optimizer", False))
            continue
        trainable = {p["name"] for p in record["params"] if p["requires_grad"]}
        held = set(record["held"])
        frozen_held = sorted(held - trainable)
        left_out = sorted(trainable - held)
        decay = any(g["weight_decay"] > 0 for g in record["groups"])
        problems = ([f"holds {len(frozen_held)} frozen parameters ({_names(frozen_held)})"
                     + (" with weight decay, which moves them although they get no gradient" if decay else "")]
                    if frozen_held else []) + ([f"leaves out trainable {_names(left_out)}"] if left_out else [])
        problems += [f"holds {record['foreign']} tensors that are not the model's parameters"] if record["foreign"] else []
        bars.append((f"{title}: {record['type']} over {len(held)} parameters; the model has {len(trainable)} trainable"
                     + ("; " + "; ".join(problems) if problems else ""), not problems))
    return _bars(f"{ctx.params.names.make_optimizer}(model) must hold exactly the trainable parameters:", bars, ctx)


def _buffers_note(data: dict[str, Any]) -> list[str]:
    moved = [b["name"] for b in data.get("buffers", []) if b["part"] == "backbone" and b["before"] != b["after"]]
    if not moved:
        return []
    return [f"- note: backbone buffers moved during training ({_names(moved)}): BatchNorm running statistics update "
            "in train mode even when every parameter is frozen. That is allowed here (parameters are what is judged); "
            "call model.backbone.eval() while training the head if you want the backbone entirely fixed."]


def head_only_behaviour(ctx: ScoreContext) -> Verdict:
    data = ctx.student.data
    params = data["params"]
    changed, kept = _backbone_unchanged(params)
    with_grad = [f"{p['name']} ({'all zeros' if p['grad'] == 'zero' else 'non-zero'})"
                 for p in params if p["part"] == "backbone" and p["grad"] != "none"]
    head_changed = [p["name"] for p in params if p["part"] == "head" and p.get("before") != p["after"]]
    largest = max((p["max_change"] or 0.0 for p in params if p["name"] in changed), default=0.0)
    bars = [
        (f"{len(kept)} backbone parameters are bit-identical after training"
         + (f"; {len(changed)} changed (by up to {largest:.3g}): {_names(changed)}" if changed else ""),
         bool(kept) and not changed),
        ("frozen backbone parameters have no gradient" + (f"; these have one: {_names(with_grad)}" if with_grad else ""),
         not with_grad),
        ("the head was trained" if head_changed else "the head did not change during training", bool(head_changed)),
        judge_history(data, ctx.budget.epochs),
    ]
    summary = "Head-only fine-tuning (replace_head, freeze_backbone, make_optimizer, then your train(optimizer=...)):"
    return _bars(summary, bars, ctx, _buffers_note(data))


def full_finetune_behaviour(ctx: ScoreContext) -> Verdict:
    data = ctx.student.data
    changed, kept = _backbone_unchanged(data["params"])
    head_changed = [p["name"] for p in data["params"] if p["part"] == "head" and p.get("before") != p["after"]]
    bars = [(f"{len(changed)} of {len(changed) + len(kept)} backbone parameters changed during training",
             bool(changed)),
            ("the head was trained" if head_changed else "the head did not change during training", bool(head_changed)),
            judge_history(data, ctx.budget.epochs)]
    return _bars("Fine-tuning the whole network (replace_head, make_optimizer, then your train(optimizer=...)):", bars, ctx)
