"""Inside the sandbox: the steps of the ``transfer`` kind (pretraining, the three training variants, snapshots).

Every step builds on the student's own ``build_model``. The source model is pretrained once per run with
the grader's loop and saved with ``torch.save(state_dict)`` to a file in the run's private temporary folder,
which is what ``load_pretrained(path)`` receives; the other steps load those weights themselves (strictly),
so one broken function does not sink the checks of the others. Weights never leave the sandbox: what crosses
is digests of each tensor's bytes and a few numbers, judged by the trusted side (``transfer.py``).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.checks.base import ProbeContext, shared_step
from grader.sampling import derived_seed


def digest(tensor: Any) -> str:
    """Bytes, dtype and shape of a tensor: equal digests mean bit-identical tensors."""
    array = tensor.detach().to("cpu").contiguous()
    head = f"{array.dtype}{tuple(array.shape)}".encode()
    return hashlib.sha256(head + array.numpy().tobytes()).hexdigest()[:32]


def part_of(name: str) -> str:
    return name.split(".", 1)[0] if name.split(".", 1)[0] in ("backbone", "head") else "other"


def snapshot(model: Any) -> dict[str, Any]:
    """Digests and float copies of every parameter, digests of every buffer."""
    return {
        "params": {n: (digest(p), p.detach().to("cpu", copy=True).float()) for n, p in model.named_parameters()},
        "buffers": {n: digest(b) for n, b in model.named_buffers()},
    }


def compare(before: dict[str, Any], model: Any) -> dict[str, Any]:
    """What happened to each parameter and buffer since ``before``: digests, largest change, gradient state."""
    params = []
    for name, p in model.named_parameters():
        old = before["params"].get(name)
        grad = "none" if p.grad is None else ("zero" if not bool(p.grad.detach().abs().sum() > 0) else "nonzero")
        change = None
        if old is not None and tuple(old[1].shape) == tuple(p.shape):
            change = float((p.detach().to("cpu").float() - old[1]).abs().max()) if p.numel() else 0.0
        params.append({"name": name, "part": part_of(name), "requires_grad": bool(p.requires_grad), "grad": grad,
                       "before": old[0] if old else None, "after": digest(p), "max_change": change})
    buffers = [{"name": n, "part": part_of(n), "before": before["buffers"].get(n), "after": digest(b)}
               for n, b in model.named_buffers()]
    return {"params": params, "buffers": buffers}


def source_model(ctx: ProbeContext) -> dict[str, Any]:
    """The source model (the student's ``build_model(source_classes)``), pretrained once per run by the grader."""
    p, budget = ctx.params, ctx.budget
    key = f"pretraining build_model({p.source_classes}) on the source task"

    def pretrain() -> dict[str, Any]:
        import torch

        from grader.checks.training import fit

        seed = derived_seed(ctx.seed, "transfer", "source")
        torch.manual_seed(seed)
        data = ctx.dataset(p.source_dataset)
        loader = data.loader("train", batch_size=p.batch_size, shuffle=True, seed=seed, limit=budget.source_train_size,
                             normalize=True)
        model = ctx.lookup(p.names.build)(p.source_classes).to(ctx.device)
        losses = fit(model, loader, p.source_optimizer, budget.source_epochs, ctx.device)
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        path = Path(tempfile.mkdtemp(prefix="source-")) / "source_model.pt"
        torch.save(state, path)
        return {"model": model, "state": state, "path": str(path), "losses": losses, "train_size": len(loader.dataset)}

    return shared_step(ctx, key, pretrain)


def fresh_source(ctx: ProbeContext) -> Any:
    """A new ``build_model(source_classes)`` carrying the pretrained weights, loaded by the grader (strictly)."""
    source = source_model(ctx)
    model = ctx.lookup(ctx.params.names.build)(ctx.params.source_classes)
    model.load_state_dict(source["state"], strict=True)
    return model.to(ctx.device)


def sample_input(ctx: ProbeContext, batch: int = 4) -> Any:
    from grader.checks.torch_helpers import randn

    shape = list(ctx.dataset(ctx.params.target_dataset).meta["image_shape"])
    channels = shape[2] if len(shape) == 3 else 1
    return randn([batch, channels, *shape[:2]], derived_seed(ctx.seed, ctx.check_id, "input")).to(ctx.device)


def output_shape(model: Any, x: Any) -> list[int]:
    import torch

    model.eval()
    with torch.no_grad():
        return [int(d) for d in model(x).shape]


def variant(ctx: ProbeContext, mode: str) -> dict[str, Any]:
    """One training variant on the target task with the student's ``train()``, once per run.

    ``scratch``: a new ``build_model(target_classes)``, ``train()`` with its own optimizer.
    ``full_finetune``: the source model, ``replace_head``, ``make_optimizer``, ``train(optimizer=...)``.
    ``head_only``: the same with ``freeze_backbone`` before ``make_optimizer``.
    """
    p, budget = ctx.params, ctx.budget
    key = f"the {mode.replace('_', ' ')} run ({budget.epochs} epochs on {budget.train_size or 'all'} images)"

    def run() -> dict[str, Any]:
        import torch

        from grader.checks.torch_helpers import loss_history, to_numpy
        from grader.checks.training import predict

        seed = derived_seed(ctx.seed, "transfer", mode)
        if mode == "scratch":
            torch.manual_seed(seed)
            model = ctx.lookup(p.names.build)(p.target_classes)
        else:
            model = fresh_source(ctx)
            torch.manual_seed(seed)
            model = ctx.lookup(p.names.replace_head)(model, p.target_classes)
            if mode == "head_only":
                model = ctx.lookup(p.names.freeze_backbone)(model)
        kwargs: dict[str, Any] = {}
        if mode != "scratch":
            kwargs["optimizer"] = ctx.lookup(p.names.make_optimizer)(model)
        data = ctx.dataset(p.target_dataset)
        loader = data.loader("train", batch_size=p.batch_size, shuffle=True, seed=seed, limit=budget.train_size,
                             normalize=True)
        before = snapshot(model)
        history = loss_history(ctx.lookup(p.names.train)(model, loader, epochs=budget.epochs, device=ctx.device, **kwargs))
        state = compare(before, model)
        logits = predict(model.to(ctx.device), data, budget.eval_size, ctx.device)
        return {"record": {**history, **state, "train_size": len(loader.dataset)},
                "logits": to_numpy(logits).astype(np.float32)}

    return shared_step(ctx, key, run)


def optimizer_record(optimizer: Any, model: Any) -> dict[str, Any]:
    """Which of the model's parameters an optimizer holds, and its groups' settings."""
    import torch

    names = {id(p): n for n, p in model.named_parameters()}
    if not isinstance(optimizer, torch.optim.Optimizer):
        return {"is_optimizer": False, "type": type(optimizer).__name__}
    held, foreign = [], 0
    groups = []
    for group in optimizer.param_groups:
        for param in group["params"]:
            if id(param) in names:
                held.append(names[id(param)])
            else:
                foreign += 1
        groups.append({"size": len(group["params"]), "lr": float(group.get("lr", 0.0)),
                       "weight_decay": float(group.get("weight_decay", 0.0))})
    return {"is_optimizer": True, "type": type(optimizer).__name__, "held": held, "foreign": foreign, "groups": groups,
            "params": [{"name": n, "part": part_of(n), "requires_grad": bool(p.requires_grad)}
                       for n, p in model.named_parameters()]}
