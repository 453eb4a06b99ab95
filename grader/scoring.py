"""Trusted scoring: observations of a run + the reference's + hidden truth -> per-check results.

Runs in the grader's own process and needs no torch. Every failure mode of the run (limit hit, crash,
missing name, unreadable observation) ends up as a check status with a message, never an exception.
"""

from __future__ import annotations

import logging
import signal as signals
from pathlib import Path
from typing import Any

import numpy as np

from grader.artifacts import RunArtifacts
from grader.checks import get_kind
from grader.checks.base import Observation, ScoreContext
from grader.plan import Plan, PlannedCheck
from grader.results import CheckResult
from grader.sandbox.job import Outcome

log = logging.getLogger(__name__)


def limit_message(plan: Plan, name: str) -> str:
    """One sentence a student understands for each limit, naming it."""
    from grader.spec import Limits

    limits = {**Limits().model_dump(), **plan.limits}
    return {
        "submission": f"The run was stopped after {limits['submission_s']:g} s: the per-submission time limit. "
                      "Look for a loop that never ends or training that runs at import time / outside skip-grading cells.",
        "memory": f"The run was stopped for using more than {limits['memory_mb']} MB of memory: the memory limit. "
                  "Look for arrays or tensors that keep growing, or much larger batches than the task needs.",
        "processes": f"The run tried to have more than {limits['max_processes']} processes and threads at once: "
                     "the process limit. New processes or threads were refused.",
        "disk": f"The run was stopped for writing more than {limits['disk_mb']} MB (or too many files) into its "
                "folders: the disk limit.",
        "file_size": f"A file larger than {limits['file_size_mb']} MB was refused: the file-size limit.",
        "output": f"The run printed more than {limits['output_kb']} KB; only the beginning and the end of the output "
                  "were kept: the output limit.",
    }.get(name, f"The run hit the {name} limit.")


def run_problems(plan: Plan, artifacts: RunArtifacts, outcome: Outcome) -> list[str]:
    """What went wrong with the run as a whole, in a student's terms, most important first."""
    problems: list[str] = []
    if outcome.limit_hit:
        problems.append(limit_message(plan, outcome.limit_hit))
    elif not artifacts.finished:
        problems.append("The run ended before the grader finished: " + describe_exit(outcome))
    problems += [limit_message(plan, name) for name in outcome.limits_hit if name != outcome.limit_hit]
    load = artifacts.load
    if load is not None and load.status != "ok" and load.message:
        problems.append(load.message)
    for cell in load.cells if load is not None else []:
        if cell.status == "timeout":
            problems.append(f"Cell {cell.cell} ({cell.first_line}) hit the per-cell time limit "
                            f"({plan.limits['cell_s']:g} s) and was interrupted; the grader went on with the next cell.")
        elif cell.status == "error" and cell.error:
            problems.append(f"Cell {cell.cell} ({cell.first_line}) raised {cell.error['ename']}: "
                            f"{cell.error['evalue'][:300]}")
    return problems


def describe_exit(outcome: Outcome) -> str:
    if outcome.signal:
        name = signals.Signals(outcome.signal).name if outcome.signal in signals.Signals._value2member_map_ else str(outcome.signal)
        extra = {"SIGKILL": " (often: memory exhausted)", "SIGSEGV": " (a crash in native code)"}.get(name, "")
        return f"the process was killed by {name}{extra}."
    if outcome.exit_code == 0:
        return "the process exited with code 0 before the checks finished (did your code call os._exit()?)."
    return f"the process exited with code {outcome.exit_code} (a crash, os._exit(), or memory exhausted)."


def score_checks(plan: Plan, artifacts: RunArtifacts, outcome: Outcome, reference: dict[str, Observation],
                 truth: dict[str, dict[str, np.ndarray]], submission: Path | None = None) -> list[CheckResult]:
    """One :class:`CheckResult` per planned check, plus ``skipped`` entries for checks not in this profile.

    ``submission`` is the student's notebook or module (``Submission.entry``), for kinds judged from the file
    rather than from the run (``manual``); None when scoring the reference during calibration.
    """
    results = [_score_file(plan, check, reference, truth, submission)
               if getattr(get_kind(check.kind), "SCORED_WITHOUT_RUN", False)
               else _score_one(plan, check, artifacts, outcome, reference, truth) for check in plan.checks]
    for check in plan.not_run:
        results.append(_result(check, "skipped", 0.0, f"Hidden check: runs only under the 'grade' profile, "
                                                        f"not under '{plan.profile}'.", max_points=0.0))
    return results


def _result(check: PlannedCheck, status: str, fraction: float, message: str, details: dict[str, Any] | None = None,
            duration: float | None = None, max_points: float | None = None,
            figures: list[dict[str, Any]] | None = None) -> CheckResult:
    return CheckResult(id=check.id, title=check.title, kind=check.kind, visibility=check.visibility, status=status,
                       points=round(check.points * fraction, 4), max_points=check.points if max_points is None else max_points,
                       message=message, details=details or {}, figures=figures or [], duration_s=duration)


def _score_one(plan: Plan, check: PlannedCheck, artifacts: RunArtifacts, outcome: Outcome,
               reference: dict[str, Observation], truth: dict[str, dict[str, np.ndarray]]) -> CheckResult:
    artifact = artifacts.checks.get(check.id)
    if artifact is None or artifact.record is None:
        if artifact is not None and artifact.problem:
            return _result(check, "error", 0.0, f"What your run produced for this check could not be accepted: {artifact.problem}")
        if outcome.limit_hit:
            where = "while this check was running" if check.id in artifacts.started else "before this check was reached"
            what = {"submission": f"the per-submission time limit ({plan.limits['submission_s']:g} s)",
                    "memory": f"the memory limit ({plan.limits.get('memory_mb')} MB)",
                    "processes": f"the process limit ({plan.limits.get('max_processes')})",
                    "disk": f"the disk limit ({plan.limits.get('disk_mb')} MB)"}.get(outcome.limit_hit, outcome.limit_hit)
            status = "timeout" if outcome.limit_hit == "submission" else "error"
            return _result(check, status, 0.0, f"Stopped by {what} {where}.")
        return _result(check, "error", 0.0, "This check never ran: " + describe_exit(outcome))
    record, observation = artifact.record, artifact.observation
    if record.status == "timeout":
        return _result(check, "timeout", 0.0, f"Stopped: {record.message}. Is something in your code much slower "
                                              "than it needs to be, or never finishing?", duration=record.duration_s)
    if record.status in ("missing", "error"):
        prefix = "" if record.status == "missing" else "Your code raised an error while the grader called it: "
        return _result(check, "error", 0.0, prefix + record.message, duration=record.duration_s)
    return _judge(plan, check, observation, reference[check.id], truth, None, record.duration_s)


def _score_file(plan: Plan, check: PlannedCheck, reference: dict[str, Observation],
                truth: dict[str, dict[str, np.ndarray]], submission: Path | None) -> CheckResult:
    """A kind judged from the submission file (a written answer): whatever happened to the run, it is scored."""
    if submission is None:  # the reference's self-check: nobody grades the reference's written answers
        return _result(check, "skipped", 0.0, "Judged from a student's submission file; there is none here "
                                              "(the reference run).", max_points=0.0)
    return _judge(plan, check, Observation(), reference.get(check.id, Observation()), truth, submission, None)


def _judge(plan: Plan, check: PlannedCheck, observation: Observation, reference: Observation,
           truth: dict[str, dict[str, np.ndarray]], submission: Path | None, duration: float | None) -> CheckResult:
    module = get_kind(check.kind)
    ctx = ScoreContext(
        check_id=check.id, title=check.title, params=module.Params.model_validate(check.params),
        budget=module.Budget.model_validate(check.budget), thresholds=module.Thresholds.model_validate(check.thresholds),
        profile=plan.profile, seed=plan.seed, student=observation, reference=reference, truth=truth, hint=check.hint,
        submission=submission,
    )
    try:
        verdict = module.score(ctx)
    except Exception as exc:  # noqa: BLE001 - malformed observation data must not crash a batch
        log.debug("scoring %s failed", check.id, exc_info=True)
        return _result(check, "error", 0.0, "What your code returned for this check could not be interpreted "
                                            f"({type(exc).__name__}: {exc}).", duration=duration)
    if verdict.manual:  # a person grades it: no points until a TA's grade is merged in (grader/manual.py)
        return _result(check, "manual", 0.0, verdict.message, verdict.details, duration)
    status = "pass" if verdict.passed else ("error" if verdict.errored else "fail")
    return _result(check, status, max(0.0, min(1.0, verdict.fraction)), verdict.message, verdict.details, duration,
                   figures=verdict.figures)
