"""Kind ``gradcheck``: in float64, autograd's Jacobian agrees with finite differences.

The sandbox computes both Jacobians (and, for the record, ``torch.autograd.gradcheck``'s own verdict);
the comparison that awards points happens here, in the trusted process, with gradcheck's criterion.
So a submission that patches ``torch.allclose`` or gradcheck itself changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from grader.checks.base import (
    Budget,
    Observation,
    ProbeContext,
    ScoreContext,
    Strict,
    TargetCases,
    Verdict,
    all_raised,
    compose_message,
)
from grader.sampling import derived_seed, describe_call, resolve_cases

Budget = Budget


Params = TargetCases


class Thresholds(Strict):
    rtol: float = Field(1e-3, ge=0)
    atol: float = Field(1e-5, ge=0)


def probe(ctx: ProbeContext) -> Observation:
    import torch

    from grader.checks.torch_helpers import describe_exception, randn, to_numpy

    factory = ctx.lookup(ctx.params.target)
    seed = derived_seed(ctx.seed, ctx.check_id)
    eps = 1e-6  # torch.autograd.gradcheck's default step
    statuses: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for index, case in enumerate(resolve_cases(ctx.params.cases, seed)):
        try:
            torch.manual_seed(seed + index)
            module = factory(**case["init"]).double()
            named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
            names = [n for n, _ in named]

            def fn(x: Any, *weights: Any, _module: Any = module, _names: list[str] = names) -> Any:
                return torch.func.functional_call(_module, dict(zip(_names, weights, strict=True)), (x,))

            inputs = (randn(case["input"], seed + index, torch.float64), *(p.detach().clone() for _, p in named))
            analytical = torch.autograd.functional.jacobian(fn, inputs)
            for position, (label, tensor, jac) in enumerate(zip(["input", *names], inputs, analytical, strict=True)):
                out_numel = int(np.prod(jac.shape[: jac.dim() - tensor.dim()]))
                arrays[f"c{index}_ana_{_key(label)}"] = to_numpy(jac).reshape(out_numel, tensor.numel())
                arrays[f"c{index}_num_{_key(label)}"] = _numerical(fn, inputs, position, eps)
            verdict = torch.autograd.gradcheck(fn, tuple(t.requires_grad_() for t in inputs), raise_exception=False)
            statuses.append({"ok": True, "torch_gradcheck": bool(verdict), "inputs": ["input", *names]})
        except Exception as exc:
            statuses.append({"error": describe_exception(exc)})
    return Observation(data={"cases": statuses}, arrays=arrays)


def _key(name: str) -> str:
    return name.replace(".", "__")


def _numerical(fn: Any, inputs: tuple[Any, ...], which: int, eps: float) -> np.ndarray:
    """Central differences of the flattened output with respect to ``inputs[which]``."""
    import torch

    with torch.no_grad():
        base = [t.detach().clone() for t in inputs]
        target = base[which].view(-1)
        columns = []
        for k in range(target.numel()):
            original = float(target[k])
            target[k] = original + eps
            plus = fn(*base).reshape(-1).clone()
            target[k] = original - eps
            minus = fn(*base).reshape(-1).clone()
            target[k] = original
            columns.append(((plus - minus) / (2 * eps)).cpu().numpy())
    return np.stack(columns, axis=1)


def score(ctx: ScoreContext) -> Verdict:
    cases = resolve_cases(ctx.params.cases, derived_seed(ctx.seed, ctx.check_id))
    tol = ctx.thresholds
    good, problems = 0, []
    for index, (case, seen) in enumerate(zip(cases, ctx.student.data["cases"], strict=True)):
        call = f"{describe_call(ctx.params.target, case['init'])} on input {tuple(case['input'])} (float64)"
        if "error" in seen:
            problems.append(f"{call} raised {seen['error']}")
            continue
        labels = sorted({k.split("_", 2)[2] for k in ctx.student.arrays if k.startswith(f"c{index}_ana_")})
        if "input" not in labels:
            labels.append("input")
        bad = []
        for label in labels:
            ana = ctx.student.arrays.get(f"c{index}_ana_{label}")
            num = ctx.student.arrays.get(f"c{index}_num_{label}")
            if ana is None or num is None or ana.shape != num.shape:
                bad.append(f"no Jacobian with respect to {label}")
            elif not np.allclose(ana, num, rtol=tol.rtol, atol=tol.atol):
                bad.append(f"Jacobian with respect to {label.replace('__', '.')} is off by up to {float(np.max(np.abs(ana - num))):.3g}")
        if bad:
            problems.append(f"{call}: autograd and finite differences disagree: {'; '.join(bad)}")
        else:
            good += 1
    summary = f"{good} of {len(cases)} configurations pass the gradient check (autograd vs finite differences)."
    return Verdict(good / len(cases), compose_message(summary, problems, ctx.hint), {"correct": good},
                   errored=all_raised(ctx.student.data["cases"]))
