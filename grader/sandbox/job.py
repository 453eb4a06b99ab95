"""The data a sandbox backend consumes (Job) and produces (Outcome)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.plan import Plan


@dataclass
class Job:
    """One submission to run: where its files are and what to run on it."""

    run_id: str
    student: str
    kind: str  # "notebook" or "module"
    entry: str  # the notebook or module file, relative to the work dir
    run_dir: Path
    data_dir: Path
    plan: Plan

    @property
    def work_dir(self) -> Path:
        return self.run_dir / "work"

    @property
    def out_dir(self) -> Path:
        return self.run_dir / "out"

    @property
    def job_file(self) -> Path:
        return self.run_dir / "job.json"

    def runner_payload(self) -> dict[str, Any]:
        """What the in-sandbox runner reads: no thresholds, no reference data, no labels."""
        plan = self.plan
        return {
            "kind": self.kind,
            "entry": str(self.work_dir / self.entry),
            "work_dir": str(self.work_dir),
            "out_dir": str(self.out_dir),
            "data_dir": str(self.data_dir),
            "seed": plan.seed,
            "device": plan.device,
            "cpus": plan.cpus,
            "limits": {k: plan.limits[k] for k in ("cell_s", "startup_s", "gpu_memory_fraction")},
            "interface": plan.interface,
            "checks": [{"id": c.id, "kind": c.kind, "params": c.params, "budget": c.budget} for c in plan.checks],
        }

    def write_payload(self) -> None:
        self.job_file.write_text(json.dumps(self.runner_payload(), indent=1))


@dataclass
class Outcome:
    """What happened to the process: exit, limit hit, bounded output, and how it was isolated."""

    exit_code: int | None
    signal: int | None
    duration_s: float
    limit_hit: str | None = None  # the limit that ended the run: "submission", "disk", "memory", "processes"
    limits_hit: list[str] = field(default_factory=list)  # every limit reached, "file_size" and "output" included
    stdout: str = ""
    stderr: str = ""
    output_truncated: bool = False
    isolation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
