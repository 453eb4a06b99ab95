"""Plan: what one profile of one assignment runs, as plain data (the sandbox gets a copy as JSON)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.checks import parse_check_models
from grader.errors import UsageError
from grader.spec import PROFILE_NAMES, LoadedSpec


@dataclass(frozen=True)
class PlannedCheck:
    id: str
    kind: str
    title: str
    points: float
    visibility: str
    hint: str
    params: dict[str, Any]
    budget: dict[str, Any]
    thresholds: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    assignment: str
    title: str
    profile: str
    device: str
    seed: int
    cpus: int
    limits: dict[str, Any]
    interface: dict[str, dict[str, str]]
    datasets: list[str]
    checks: list[PlannedCheck]
    not_run: list[PlannedCheck] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cuda_available() -> bool:
    """Whether an NVIDIA GPU is usable, without importing torch in the trusted process."""
    return Path("/dev/nvidiactl").exists() and Path("/proc/driver/nvidia/version").exists()


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if cuda_available() else "cpu"
    if requested == "cuda" and not cuda_available():
        raise UsageError("this profile needs a CUDA GPU, and none is visible on this machine (use --device cpu)")
    return requested


def build_plan(loaded: LoadedSpec, profile: str, device: str | None = None) -> Plan:
    """The checks to run under ``profile`` with their validated params, budgets and thresholds."""
    if profile not in PROFILE_NAMES:
        raise UsageError(f"unknown profile {profile!r}; use one of {', '.join(PROFILE_NAMES)}")
    spec = loaded.spec
    prof = spec.profiles[profile]
    run, skip = [], []
    for check in spec.checks:
        params, budget, thresholds = parse_check_models(check, profile)
        planned = PlannedCheck(
            id=check.id, kind=check.kind, title=check.title, points=check.points, visibility=check.visibility,
            hint=check.hint, params=params.model_dump(), budget=budget.model_dump(), thresholds=thresholds.model_dump(),
        )
        (run if prof.checks == "all" or check.visibility == "public" else skip).append(planned)
    return Plan(
        assignment=spec.id, title=spec.title, profile=profile, device=resolve_device(device or prof.device),
        seed=prof.seed, cpus=prof.cpus or (os.cpu_count() or 1), limits=prof.limits.model_dump(),
        interface={name: item.model_dump() for name, item in spec.interface.items()},
        datasets=sorted(spec.datasets), checks=run, not_run=skip,
    )
