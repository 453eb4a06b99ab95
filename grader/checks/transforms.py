"""Kind ``transforms``: an image transform factory (``train_transform()`` / ``eval_transform()``) behaves as asked.

The probe calls ``target()`` once, then applies the transform several times to each of a few 32x32 RGB PIL
images the grader draws, and records the output's type, dtype and shape and how much repeated applications to
the same image differed. Judged here: every output is a float tensor of ``shape``, finite, and

    random          at least one image came out differently on repeated applications (augmentation is on)
    deterministic   every image came out identically every time (no augmentation at evaluation)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import (
    Budget,
    NoThresholds,
    Observation,
    ProbeContext,
    ScoreContext,
    Strict,
    Verdict,
    compose_message,
)

Budget = Budget
Thresholds = NoThresholds


class Params(Strict):
    target: str = Field(description="a function returning the transform, e.g. train_transform")
    expect: Literal["random", "deterministic"]
    images: int = Field(8, ge=1, le=64)
    repeats: int = Field(4, ge=2, le=16)
    shape: list[int] = Field(default_factory=lambda: [3, 32, 32])

    def targets(self) -> list[str]:
        return [self.target]


def probe(ctx: ProbeContext) -> Observation:
    import numpy as np
    import torch
    from PIL import Image

    from grader.checks.torch_helpers import describe_exception
    from grader.sampling import derived_seed

    seed = derived_seed(ctx.seed, ctx.check_id)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    transform = ctx.lookup(ctx.params.target)()
    h, w = ctx.params.shape[-2:]
    records: list[dict[str, Any]] = []
    for _ in range(ctx.params.images):
        # Smooth random images (upscaled noise), so that crops and flips change what comes out.
        small = rng.integers(0, 256, size=(h // 4, w // 4, 3), dtype=np.uint8)
        image = Image.fromarray(np.kron(small, np.ones((4, 4, 1), dtype=np.uint8)))
        try:
            outputs = [transform(image.copy()) for _ in range(ctx.params.repeats)]
        except Exception as exc:
            records.append({"error": describe_exception(exc)})
            continue
        first = outputs[0]
        record: dict[str, Any] = {"type": type(first).__name__}
        if isinstance(first, torch.Tensor):
            record.update(dtype=str(first.dtype).removeprefix("torch."), shape=list(first.shape),
                          finite=bool(torch.isfinite(first.float()).all()))
            same = [isinstance(o, torch.Tensor) and o.shape == first.shape and torch.equal(o, first) for o in outputs[1:]]
            record["identical_repeats"] = all(same)
        records.append(record)
    return Observation(data={"images": records})


def score(ctx: ScoreContext) -> Verdict:
    records = ctx.student.data["images"]
    name = f"{ctx.params.target}()"
    errors = [r["error"] for r in records if "error" in r]
    if errors:
        return Verdict(0.0, compose_message(f"Applying {name} to a 32x32 RGB PIL image raised {errors[0]}.", [], ctx.hint,
                                            failed=True), errored=len(errors) == len(records))
    want = [int(d) for d in ctx.params.shape]
    problems = []
    for r in records:
        if r.get("type") != "Tensor":
            problems.append(f"it returned a {r.get('type')}, not a tensor (end with transforms.ToTensor())")
        elif not str(r.get("dtype", "")).startswith(("float", "bfloat")):
            problems.append(f"it returned a {r.get('dtype')} tensor; a float tensor is needed (ToTensor() scales to [0, 1])")
        elif [int(d) for d in r.get("shape", [])] != want:
            problems.append(f"it returned shape {tuple(r.get('shape', []))}; expected {tuple(want)}")
        elif not r.get("finite", False):
            problems.append("its output holds NaN or infinite values")
    problems = list(dict.fromkeys(problems))
    changed = sum(1 for r in records if r.get("identical_repeats") is False)
    n = len(records)
    if ctx.params.expect == "random":
        behaviour_ok = changed > 0
        behaviour = (f"{changed} of {n} images came out differently when transformed again (random augmentation)"
                     if behaviour_ok else f"all {n} images came out identically on {ctx.params.repeats} applications: "
                     "no random augmentation")
    else:
        behaviour_ok = changed == 0
        behaviour = (f"all {n} images came out identically on every application" if behaviour_ok else
                     f"{changed} of {n} images came out differently when transformed again: the evaluation transform "
                     "must not augment")
    if behaviour_ok and not problems:
        return Verdict(1.0, f"{name}: {behaviour}; outputs are float tensors of shape {tuple(want)}.")
    fraction = 0.5 if behaviour_ok != (not problems) else 0.0
    if not behaviour_ok:
        problems.insert(0, behaviour)
    summary = f"{name}: " + ("the outputs are not what the model expects." if behaviour_ok else "wrong behaviour.")
    return Verdict(fraction, compose_message(summary, problems, ctx.hint, failed=True), {"changed": changed})
