"""The whole pipeline for a batch: spec -> plan -> sandboxed runs -> artifacts -> scoring -> results.

``Batch`` prepares what every submission shares (plan, data, reference observations) once; then
``grade`` turns each submission into a :class:`SubmissionResult`, written to disk as soon as it exists.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

import grader
from grader import calibration, data
from grader.artifacts import RunArtifacts, read_artifacts
from grader.executor import run_all
from grader.panels import build_panels
from grader.plan import Plan, build_plan
from grader.results import CheckResult, SubmissionResult, write_result
from grader.sandbox import Outcome, get_sandbox
from grader.scoring import run_problems, score_checks
from grader.spec import LoadedSpec
from grader.submissions import Submission
from grader.workspace import Workspace

log = logging.getLogger(__name__)
SPLITS_FOLDER = "_splits"  # beside the students' folders: <out>/<assignment>/<profile>/_splits/<dataset>-<sha>.npz


@dataclass
class Batch:
    """Shared state of one grading batch. Use as a context manager so the workspace is removed."""

    loaded: LoadedSpec
    profile: str
    device: str | None = None
    sandbox_name: str = "auto"
    workers: int = 1
    data_root: Path | None = None
    seed: int | None = None  # overrides the profile's seed (calibration over several seeds)
    plan: Plan = field(init=False)
    workspace: Workspace = field(init=False)
    truth: dict[str, dict[str, np.ndarray]] = field(init=False, default_factory=dict)
    datasets: dict[str, data.PreparedDataset] = field(init=False, default_factory=dict)
    reference: calibration.ReferenceData | None = field(init=False, default=None)
    dataset_records: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.plan = build_plan(self.loaded, self.profile, self.device)
        if self.seed is not None:
            self.plan = dataclasses.replace(self.plan, seed=self.seed)
        if self.workers > 1:  # share the cores (and a GPU's memory) between concurrent runs
            limits = {**self.plan.limits}
            if self.plan.device == "cuda":
                limits["gpu_memory_fraction"] = round(float(limits.get("gpu_memory_fraction", 0.9)) / self.workers, 4)
            self.plan = dataclasses.replace(self.plan, cpus=max(1, self.plan.cpus // self.workers), limits=limits)
        self.sandbox = get_sandbox(self.sandbox_name, self.plan.device)
        self.workspace = Workspace()
        try:  # decoded once per batch; every run maps the same read-only files
            self.datasets = data.prepare_all(self.loaded.spec.datasets, self.workspace.data_dir,
                                             data.resolve_root(self.data_root))
        except BaseException:
            self.workspace.cleanup()
            raise
        self.truth = {name: prepared.truth for name, prepared in self.datasets.items()}

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.workspace.cleanup()

    def calibrate(self, force: bool = False) -> calibration.ReferenceData:
        """Reference observations for this batch's plan (cached by fingerprint)."""
        if self.reference is None or force:
            fingerprints = {name: d.fingerprint for name, d in self.datasets.items()}
            self.reference = calibration.load_or_run(self.loaded, self.plan, self.workspace, self.sandbox,
                                                     fingerprints, self.truth, force=force)
        return self.reference

    def grade(self, submissions: list[Submission], out_dir: Path,
              on_done: Callable[[SubmissionResult], None] | None = None) -> list[SubmissionResult]:
        reference = self.calibrate()
        self._record_splits(out_dir / self.plan.assignment / self.plan.profile)
        numbered = list(enumerate(submissions))
        results = run_all(
            numbered, lambda item: self._grade_one(item[1], item[0], reference, out_dir),
            lambda item, exc: self._ungraded(item[1], exc, out_dir), workers=self.workers, on_done=on_done,
        )
        # Written once as each finished (nothing lost on a crash) and again now, from memory, so that
        # anything a run managed to write into the results folder meanwhile is overwritten.
        for result in results:
            self._write(result, out_dir)
        return results

    def _record_splits(self, folder: Path) -> None:
        """Write each dataset's split indices once per batch; every result names the file and its digest."""
        self.dataset_records = {}
        for name, prepared in self.datasets.items():
            digest = prepared.splits.sha256()
            path = folder / SPLITS_FOLDER / f"{name}-{digest[:12]}.npz"
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, train=prepared.splits.train, val=prepared.splits.val,
                                    eval=prepared.splits.eval)
            record = {**prepared.info}
            record["split"] = {**record["split"], "indices_file": f"../{SPLITS_FOLDER}/{path.name}"}
            self.dataset_records[name] = record

    def _grade_one(self, submission: Submission, index: int, reference: calibration.ReferenceData,
                   out_dir: Path) -> SubmissionResult:
        if submission.problem:  # nothing runnable: a graded result that says why
            outcome = Outcome(exit_code=None, signal=None, duration_s=0.0)
            checks = score_checks(self.plan, RunArtifacts(), outcome, reference.observations, self.truth, submission.entry)
            checks = [c if c.status == "skipped" else c.model_copy(update={"message": "Not run: " + submission.problem})
                      for c in checks]
            result = self._result(submission, "graded", checks, [submission.problem])
            self._write(result, out_dir)
            return result
        job = self.workspace.new_job(submission, self.plan, f"{index:04d}-{submission.student}")
        outcome = self.sandbox.run(job)
        artifacts = read_artifacts(job.out_dir, [c.id for c in self.plan.checks])
        checks = score_checks(self.plan, artifacts, outcome, reference.observations, self.truth, submission.entry)
        result = self._result(submission, "graded", checks, run_problems(self.plan, artifacts, outcome))
        result.load = artifacts.load
        result.timings = {"run_s": outcome.duration_s}
        if artifacts.load is not None and artifacts.load.duration_s is not None:
            result.timings["load_s"] = artifacts.load.duration_s
        result.environment = {"reported_by_run": artifacts.environment}
        result.isolation = {**outcome.isolation, "limits_profile": self.plan.limits, "limit_hit": outcome.limit_hit,
                            "limits_hit": outcome.limits_hit, "output_truncated": outcome.output_truncated}
        result.logs = {"stdout": outcome.stdout, "stderr": outcome.stderr}
        self._write(result, out_dir)
        return result

    def _result(self, submission: Submission, status: str, checks: list[CheckResult], problems: list[str]) -> SubmissionResult:
        reference = self.reference.summary() if self.reference else {}
        return SubmissionResult(
            assignment=self.plan.assignment, title=self.plan.title, profile=self.plan.profile, student=submission.student,
            submission=submission.path.name, kind=submission.kind, status=status,  # type: ignore[arg-type]
            score=round(sum(c.points for c in checks), 4), max_score=self.plan.max_score, checks=checks,
            problems=problems, reference=reference, datasets=self.dataset_records, graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            grader_version=grader.__version__, figures=build_panels(self.loaded.spec.report, checks),
        )

    def _ungraded(self, submission: Submission, exc: BaseException, out_dir: Path) -> SubmissionResult:
        """The grader itself failed on this submission: record it, keep the batch going."""
        log.error("grading %s failed", submission.student, exc_info=exc)
        checks = [CheckResult(id=c.id, title=c.title, kind=c.kind, visibility=c.visibility, status="error", points=0.0,
                              max_points=c.points, message="Not graded: the grader failed (see problems).") for c in self.plan.checks]
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        result = self._result(submission, "ungraded", checks, [f"The grader failed on this submission: {text}. "
                                                               "This is not your fault; course staff have the log."])
        result.logs = {"grader_traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}
        self._write(result, out_dir)
        return result

    def _write(self, result: SubmissionResult, out_dir: Path) -> None:
        from grader.report import render_submission

        folder = submission_dir(out_dir, result)
        write_result(result, folder / "result.json")
        for name, text in result.logs.items():  # the run's own output, also inside result.json
            (folder / f"{name}.txt").write_text(text)
        (folder / "report.html").write_text(render_submission(result))


def submission_dir(out_dir: Path, result: SubmissionResult) -> Path:
    return out_dir / result.assignment / result.profile / result.student

