"""What every check kind shares: its three models, the probe and score contexts, and verdicts.

A check kind is one module in ``grader/checks/`` that defines::

    Params, Budget, Thresholds    pydantic models validated against the spec
    probe(ctx: ProbeContext) -> Observation     runs INSIDE the sandbox, calls the submission
    score(ctx: ScoreContext) -> Verdict         runs in the trusted grader, numpy only

Probes only *observe*: they return what the submission computed on inputs the grader chose. Scores
compare those observations with the reference's on the same inputs; nothing a probe says is believed
beyond being "what came out".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from grader.data.loaders import CachedDataset


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(Strict):
    """Per-profile resources of one check; kinds extend it (epochs, sizes...)."""

    timeout_s: float = Field(60, gt=0)


class NoThresholds(Strict):
    """For kinds judged purely against the reference."""


class Tolerance(Strict):
    """``allclose``-style tolerance, as in ``numpy.isclose``."""

    rtol: float = Field(1e-4, ge=0)
    atol: float = Field(1e-5, ge=0)


class TargetCases(Strict):
    """Params of kinds that call one interface name over a list of (random) cases."""

    target: str = Field(description="the interface name to call")
    cases: list[dict[str, Any]] = Field(min_length=1, description="see grader/sampling.py")

    def targets(self) -> list[str]:
        return [self.target]


class MissingName(Exception):
    """The submission does not define a name the interface requires."""


@dataclass
class Observation:
    """What a probe saw: JSON-able ``data`` plus named numeric ``arrays``."""

    data: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Verdict:
    """A check's outcome: ``fraction`` of its points (0..1) and a message for the student."""

    fraction: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    errored: bool = False  # nothing could be judged: every call raised (reported as status "error")
    manual: bool = False  # a person grades it (status "manual", 0 points until a TA's grade is merged in)
    figures: list[dict[str, Any]] = field(default_factory=list)  # see grader/figures.py

    @property
    def passed(self) -> bool:
        return self.fraction >= 1.0 - 1e-9


@dataclass
class ProbeContext:
    """Everything a probe may use inside the sandbox. No labels of evaluation data are here."""

    check_id: str
    namespace: dict[str, Any]
    interface: dict[str, dict[str, str]]
    params: Any
    budget: Any
    seed: int
    device: str
    data_dir: Path
    shared: dict[str, Any] = field(default_factory=dict)  # one dict per run: steps several checks reuse

    def lookup(self, name: str) -> Any:
        """The submission's object called ``name``, or :class:`MissingName` with the contract."""
        if name not in self.namespace:
            item = self.interface.get(name, {})
            signature = item.get("signature", "")
            raise MissingName(
                f"Your submission does not define `{name}`; the assignment asks for "
                f"{item.get('kind', 'a name')} `{name}{signature}`. Check the spelling, and that the cell "
                f"or line defining it ran without an error."
            )
        return self.namespace[name]

    def dataset(self, name: str) -> CachedDataset:
        """A prepared dataset of the batch cache: training images and labels, evaluation images only."""
        from grader.data.loaders import open_dataset

        return open_dataset(self.data_dir, name)


@dataclass
class ScoreContext:
    """Everything a scorer may use, in the trusted process."""

    check_id: str
    title: str
    params: Any
    budget: Any
    thresholds: Any
    profile: str
    seed: int
    student: Observation
    reference: Observation
    truth: dict[str, dict[str, np.ndarray]]
    hint: str = ""
    # The student's notebook or module, for kinds judged from the file itself without running it (``manual``);
    # None for the reference's self-check during calibration. Read it as untrusted text, never execute it.
    submission: Path | None = None


class StepFailed(Exception):
    """A shared step (see :func:`shared_step`) failed in an earlier check of this run."""


def shared_step(ctx: ProbeContext, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per run: later checks reuse its value, or its failure, instead of redoing the work.

    Expensive steps that several checks judge (pretraining a model, one fine-tuning run) run once, inside
    the time limit of the first check that needs them. A failure is remembered with its cause, so a later
    check reports it at once instead of spending its own time limit on the same failure.
    """
    if key in ctx.shared:
        ok, value = ctx.shared[key]
        if not ok:
            raise StepFailed(value)
        return value
    from grader.checks.torch_helpers import describe_exception
    from grader.runner.timer import TimeLimitExceeded

    try:
        value = compute()
    except TimeLimitExceeded:
        ctx.shared[key] = (False, f"{key} did not finish within the time limit of check {ctx.check_id!r}")
        raise
    except StepFailed:
        raise
    except Exception as exc:
        ctx.shared[key] = (False, f"{key} failed in check {ctx.check_id!r}: {describe_exception(exc)}")
        raise
    ctx.shared[key] = (True, value)
    return value


def all_raised(cases: Any) -> bool:
    """Whether every per-case record of a probe is an error (then the check is an error, not a fail)."""
    return isinstance(cases, list) and bool(cases) and all(isinstance(c, dict) and "error" in c for c in cases)


def compose_message(summary: str, problems: list[str], hint: str = "", limit: int = 5, failed: bool = False) -> str:
    """A summary line, the first few concrete problems, and the spec's hint when something failed."""
    lines = [summary, *(f"- {p}" for p in problems[:limit])]
    if len(problems) > limit:
        lines.append(f"- ... and {len(problems) - limit} more")
    if (problems or failed) and hint:
        lines.append(f"Hint: {hint}")
    return "\n".join(lines)


def judge_history(data: dict[str, Any], epochs: int) -> tuple[str, bool]:
    """The bar "train() returned one finite loss per epoch, and the last is below the first" (trusted side)."""
    if "history_problem" in data:
        return str(data["history_problem"])[:300], False
    history = data.get("history")
    if not isinstance(history, list):
        return "train() returned no loss history", False
    shown = ", ".join("NaN/inf" if v is None else f"{v:.4g}" for v in history[:12]) + (", ..." if len(history) > 12 else "")
    if len(history) != epochs:
        return f"train() returned {len(history)} losses for {epochs} epoch(s) ([{shown}]); expected one per epoch", False
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in history):
        return f"the loss history holds NaN or infinite values ([{shown}])", False
    if epochs >= 2 and not history[-1] < history[0]:
        return f"the training loss did not fall ([{shown}])", False
    return f"train() returned a finite loss per epoch that falls ([{shown}])", True
