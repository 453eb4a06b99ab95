"""The private, temporary file layout of one batch and of each run inside it.

    <batch>/lib/grader     a copy of the grader's in-sandbox code (RUNNER_CODE), the only thing put on the
                           sandbox's PYTHONPATH; a copy, so that a sandbox sees no path into the checkout,
                           and only the runner's part: the trusted side (scoring, calibration, reports,
                           the pipeline) never enters a sandbox
    <batch>/data/          prepared datasets: inputs and training labels only, read-only
    <batch>/runs/<id>/     job.json, work/ (a copy of the submission), out/ (observations), tmp/
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import grader
from grader.plan import Plan
from grader.sandbox.job import Job
from grader.submissions import Submission

# What a sandboxed run imports: the runner, the checks' probes (their scoring halves come along, without
# any thresholds), data loaders and the helpers they use. Thresholds, truth and reference data stay outside.
RUNNER_CODE = ("__init__.py", "errors.py", "spec.py", "sampling.py", "metrics.py", "figures.py", "baselines.py",
               "checks", "runner", "data")


def copy_runner_code(dest: Path) -> None:
    package = Path(grader.__file__).resolve().parent
    dest.mkdir(parents=True)
    for name in RUNNER_CODE:
        source = package / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, dest / name)


class Workspace:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dlgrader-", dir=root))
        (self.root / "lib").mkdir()
        self.root.chmod(0o711)  # a run's unprivileged uid may pass through to its own folders, never list them
        copy_runner_code(self.root / "lib" / "grader")
        self.data_dir = self.root / "data"
        self.data_dir.mkdir()
        self.runs = self.root / "runs"
        self.runs.mkdir()

    def new_job(self, submission: Submission, plan: Plan, run_id: str) -> Job:
        run_dir, n = self.runs / run_id, 1
        while run_dir.exists():  # the same name twice in a batch (a reference recalibrated under another seed)
            n += 1
            run_dir = self.runs / f"{run_id}-{n}"
        work = run_dir / "work"
        for sub in ("out", "tmp"):
            (run_dir / sub).mkdir(parents=True)
        if submission.path.is_dir():
            shutil.copytree(submission.path, work, symlinks=False, ignore_dangling_symlinks=True)
        else:
            work.mkdir(parents=True)
            shutil.copy2(submission.entry, work / submission.entry.name)
        entry = submission.entry.relative_to(submission.path) if submission.path.is_dir() else Path(submission.entry.name)
        job = Job(run_id=run_dir.name, student=submission.student, kind=submission.kind, entry=str(entry),
                  run_dir=run_dir, data_dir=self.data_dir, plan=plan)
        job.write_payload()
        return job

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
