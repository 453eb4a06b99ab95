"""Running the reference solution through the same pipeline, and caching what it observed.

The cache key is a fingerprint of everything the observations depend on: the spec file, the reference
source, the plan for the profile (checks, budgets, seed, device), the data's content fingerprints, the
grader's probe code and the installed torch version. Any change means a fresh reference run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grader
from grader.artifacts import read_artifacts, read_json
from grader.checks.base import Observation
from grader.errors import CalibrationError
from grader.plan import Plan
from grader.sandbox import Sandbox
from grader.scoring import run_problems, score_checks
from grader.spec import LoadedSpec
from grader.submissions import Submission
from grader.workspace import Workspace

PROBE_SOURCES = ("checks", "runner", "sampling.py")


def cache_root() -> Path:
    return Path(os.environ.get("DLGRADER_CACHE") or Path.home() / ".cache" / "dl-grader")


@dataclass
class ReferenceData:
    fingerprint: str
    observations: dict[str, Observation]
    environment: dict[str, Any]
    figures: dict[str, Any]
    path: Path
    cached: bool
    components: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None  # the reference run's wall time, when it was run (or cached)

    def summary(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "cached": self.cached, "environment": self.environment,
                "components": self.components}


def _sha_of_tree(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def fingerprint(loaded: LoadedSpec, plan: Plan, data_fingerprints: dict[str, str]) -> tuple[str, dict[str, Any]]:
    package = Path(grader.__file__).resolve().parent
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    components = {
        "spec_sha256": loaded.sha256,
        "reference_sha256": hashlib.sha256(loaded.reference_path.read_bytes()).hexdigest(),
        "profile": plan.profile,
        "device": plan.device,
        "plan_sha256": hashlib.sha256(json.dumps(plan.to_dict(), sort_keys=True, default=str).encode()).hexdigest(),
        "data": data_fingerprints,
        "probe_code_sha256": _sha_of_tree([package / p for p in PROBE_SOURCES]),
        "torch": torch_version,
    }
    return hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest(), components


def load_or_run(loaded: LoadedSpec, plan: Plan, workspace: Workspace, sandbox: Sandbox,
                data_fingerprints: dict[str, str], truth: dict[str, Any], force: bool = False) -> ReferenceData:
    """The reference's observations for this plan, from the cache when its fingerprint matches."""
    key, components = fingerprint(loaded, plan, data_fingerprints)
    target = cache_root() / plan.assignment / f"{plan.profile}-{key[:20]}"
    check_ids = [c.id for c in plan.checks]
    if not force and (target / "calibration.json").is_file():
        meta = read_json(target / "calibration.json")
        artifacts = read_artifacts(target, check_ids)
        if meta.get("fingerprint") == key and all(a.observation for a in artifacts.checks.values()):
            return ReferenceData(key, {k: a.observation for k, a in artifacts.checks.items()},  # type: ignore[misc]
                                 meta.get("environment", {}), meta.get("figures", {}), target, True, components,
                                 meta.get("duration_s"))
    reference = Submission("reference", loaded.reference_path, loaded.reference_path)
    job = workspace.new_job(reference, plan, "reference")
    outcome = sandbox.run(job)
    artifacts = read_artifacts(job.out_dir, check_ids)
    failures = [f"{cid}: {a.record.status}: {a.record.message}" if a.record else f"{cid}: no observation ({a.problem or 'never ran'})"
                for cid, a in artifacts.checks.items() if a.record is None or a.record.status != "ok"]
    if failures:
        problems = run_problems(plan, artifacts, outcome)
        raise CalibrationError(
            f"the reference solution {loaded.spec.reference} failed under profile '{plan.profile}':\n  "
            + "\n  ".join(problems + failures) + f"\n  stderr (tail): {outcome.stderr[-1500:]}"
        )
    observations = {k: a.observation for k, a in artifacts.checks.items()}
    self_scores = score_checks(plan, artifacts, outcome, observations, truth)  # type: ignore[arg-type]
    wrong = [f"{r.id}: {r.status}: {r.message}" for r in self_scores if r.status not in ("pass", "skipped")]
    if wrong:
        raise CalibrationError("the reference does not pass its own checks:\n  " + "\n  ".join(wrong))
    figures = {r.id: r.details for r in self_scores if r.details}
    _store(target, job.out_dir, check_ids, key, components, artifacts.environment, figures, outcome.duration_s)
    return ReferenceData(key, observations, artifacts.environment, figures, target, False, components,  # type: ignore[arg-type]
                         outcome.duration_s)


def _store(target: Path, out_dir: Path, check_ids: list[str], key: str, components: dict[str, Any],
           environment: dict[str, Any], figures: dict[str, Any], duration: float) -> None:
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for check_id in check_ids:
        for suffix in (".json", ".npz"):
            if (out_dir / f"{check_id}{suffix}").is_file():
                shutil.copy2(out_dir / f"{check_id}{suffix}", staging / f"{check_id}{suffix}")
    meta = {"fingerprint": key, "components": components, "environment": environment, "figures": figures,
            "duration_s": duration, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (staging / "calibration.json").write_text(json.dumps(meta, indent=2, default=str))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def _numbers(details: dict[str, Any]) -> dict[str, float]:
    """The measured figures of one check's details: floats (counts of cases, lists and matrices are left out)."""
    return {k: v for k, v in details.items() if isinstance(v, float)}


def summarize_seeds(runs: dict[int, ReferenceData]) -> dict[str, Any]:
    """Mean, spread and per-seed values of every scalar figure of the reference, over several seeds."""
    import statistics

    checks: dict[str, dict[str, dict[str, Any]]] = {}
    for seed, run in sorted(runs.items()):
        for check_id, details in run.figures.items():
            for name, value in _numbers(details).items():
                checks.setdefault(check_id, {}).setdefault(name, {"values": {}})["values"][str(seed)] = value
    for figures in checks.values():
        for entry in figures.values():
            values = list(entry["values"].values())
            entry.update(mean=statistics.fmean(values), std=statistics.stdev(values) if len(values) > 1 else 0.0,
                         min=min(values), max=max(values))
    durations = [r.duration_s for r in runs.values() if r.duration_s is not None]
    first = next(iter(runs.values()))
    return {
        "seeds": sorted(runs), "figures": checks,
        "reference_run_s": {"values": {str(s): r.duration_s for s, r in sorted(runs.items())},
                            "max": max(durations) if durations else None},
        "fingerprints": {str(s): r.fingerprint for s, r in sorted(runs.items())},
        "components": {k: v for k, v in first.components.items() if k != "plan_sha256"},
        "environment": first.environment,
    }
