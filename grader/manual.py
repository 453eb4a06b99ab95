"""TA grades of ``manual`` checks: stored apart from the grader's output, merged into every result written.

A TA's grade must survive re-grading, which rewrites ``result.json`` and ``report.html`` from scratch. So
grades live in their own small file beside the result, ``<out>/<assignment>/<profile>/<student>/manual.json``::

    {"schema_version": 1, "grades": {"<check id>": {"points", "comment", "grader", "graded_at", "answer_sha256"}}}

and :func:`grader.results.write_result` merges them in whenever a result is written (by a batch or by
``grader manual set``), so ``result.json`` never disagrees with the TA. A grade records the digest of the
answer it was given for; if the student's answer changes afterwards the grade is kept but flagged stale.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pydantic import Field, ValidationError

from grader.errors import GraderError, UsageError
from grader.results import CheckResult, Model, SubmissionResult, read_result, write_result

log = logging.getLogger(__name__)
MANUAL_FILE = "manual.json"
STORE_VERSION = 1
STALE = "stale: the answer changed after grading"


class ManualGrade(Model):
    points: float = Field(ge=0)
    comment: str = Field("", max_length=5000)
    grader: str = Field("", max_length=200)
    graded_at: str = ""
    answer_sha256: str = Field("", description="digest of the answer the grade was given for")


class ManualStore(Model):
    schema_version: int = STORE_VERSION
    grades: dict[str, ManualGrade] = Field(default_factory=dict)


def read_grades(folder: Path) -> dict[str, ManualGrade]:
    """The grades stored in ``folder`` (none when there is no file); :class:`GraderError` when it is unreadable."""
    path = folder / MANUAL_FILE
    if not path.is_file():
        return {}
    try:
        return ManualStore.model_validate(json.loads(path.read_text(encoding="utf-8"))).grades
    except (ValueError, ValidationError) as exc:  # ValidationError is a ValueError; named for the reader
        raise GraderError(f"{path}: not a valid TA grades file ({str(exc).splitlines()[0][:200]}); "
                          "fix or remove it") from None


def write_grades(folder: Path, grades: dict[str, ManualGrade]) -> None:
    """Atomically, like ``result.json``: an interrupted write never loses the grades already there."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (MANUAL_FILE + ".tmp")
    tmp.write_text(ManualStore(grades=grades).model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANUAL_FILE)


def is_manual(check: CheckResult) -> bool:
    """A manual item: scored as awaiting a person (a crash or ``skipped`` leaves nothing to grade)."""
    return check.kind == "manual" and check.status == "manual"


def is_pending(check: CheckResult) -> bool:
    return is_manual(check) and "manual" not in check.details


def apply_grades(result: SubmissionResult, grades: dict[str, ManualGrade], problem: str = "") -> SubmissionResult:
    """Merge ``grades`` into ``result`` in place (and return it): points, message, details, total score.

    Idempotent: the scorer's own message is kept in ``details.pending_message``, so merging twice, or after
    a grade changed, starts from the same place.
    """
    if not any(is_manual(c) for c in result.checks):
        return result  # nothing to merge: the grader's document is left exactly as it was
    checks = [_merged(c, grades.get(c.id), problem) if is_manual(c) else c for c in result.checks]
    result.checks = checks
    result.score = round(sum(c.points for c in checks), 4)
    return result


def _merged(check: CheckResult, grade: ManualGrade | None, problem: str) -> CheckResult:
    details = {k: v for k, v in check.details.items() if k != "manual"}
    pending = str(details.setdefault("pending_message", check.message))
    if grade is None:
        message = pending + (f"\nNote for course staff: {problem}" if problem else "")
        return check.model_copy(update={"points": 0.0, "message": message, "details": details})
    points = round(min(max(grade.points, 0.0), check.max_points), 4)
    stale = grade.answer_sha256 != details.get("answer_sha256", "")
    details["manual"] = {**grade.model_dump(), "stale": stale}
    by = f" ({grade.grader}, {grade.graded_at})" if grade.grader else f" ({grade.graded_at})" if grade.graded_at else ""
    lines = [f"Graded by a TA: {_num(points)} / {_num(check.max_points)}{by}"]
    if points != grade.points:
        lines[0] += f" (the grade {_num(grade.points)} was clamped to the check's range)"
    if grade.comment:
        lines.append(f"Comment: {grade.comment}")
    if stale:
        lines.append(f"{STALE}; the grade is kept until a TA sets it again.")
    return check.model_copy(update={"points": points, "message": "\n".join(lines), "details": details})


def _num(value: float) -> str:
    return f"{value:g}"


def merge_stored(result: SubmissionResult, folder: Path) -> SubmissionResult:
    """:func:`apply_grades` with the grades stored in ``folder``; an unreadable store is noted, never fatal."""
    try:
        grades, problem = read_grades(folder), ""
    except GraderError as exc:
        log.warning("%s", exc)
        grades, problem = {}, f"the TA grades file could not be read: {exc}"
    return apply_grades(result, grades, problem)


# --- what ``grader manual`` does on a results folder -------------------------------------------------------


def profile_dir(results_dir: Path, assignment: str, profile: str) -> Path:
    folder = results_dir / assignment / profile
    if not folder.is_dir():
        raise UsageError(f"no results for assignment {assignment!r}, profile {profile!r} under {results_dir} "
                         f"(expected the folder {folder}; grade first, or pass --profile)")
    return folder


def students(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.glob("*/result.json") if not p.parent.name.startswith(("_", ".")))


def set_grade(results_dir: Path, assignment: str, profile: str, student: str, check_id: str, points: float,
              comment: str = "", grader: str = "") -> SubmissionResult:
    """Validate, store the grade, and rewrite the student's result and report and the batch summary."""
    folder = profile_dir(results_dir, assignment, profile)
    path = folder / student / "result.json"
    if not path.is_file():
        known = students(folder)
        raise UsageError(f"no result for student {student!r} in {folder} (known: {', '.join(known) or 'none'})")
    result = read_result(path)
    check = _manual_check(result, check_id)
    if not math.isfinite(points) or points < 0 or points > check.max_points:
        raise UsageError(f"points must be between 0 and {_num(check.max_points)} for {check_id!r}, not {points:g}")
    grades = read_grades(path.parent)
    grades[check_id] = ManualGrade(points=points, comment=comment, grader=grader,
                                   graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                   answer_sha256=str(check.details.get("answer_sha256", "")))
    write_grades(path.parent, grades)
    rewrite(result, folder)
    return result


def _manual_check(result: SubmissionResult, check_id: str) -> CheckResult:
    manual_ids = [c.id for c in result.checks if c.kind == "manual"]
    listed = f"manual checks of {result.assignment}: {', '.join(manual_ids) or 'none'}"
    check = next((c for c in result.checks if c.id == check_id), None)
    if check is None:
        raise UsageError(f"no check {check_id!r} in {result.student}'s result ({listed})")
    if check.kind != "manual":
        raise UsageError(f"{check_id!r} is a {check.kind} check, graded automatically, not a manual one ({listed})")
    if check.status != "manual":
        raise UsageError(f"{check_id!r} was not scored as a manual item for {result.student} (status "
                         f"{check.status}: {check.message.splitlines()[0][:200]}); re-grade the submission first")
    return check


def rewrite(result: SubmissionResult, folder: Path) -> None:
    """``result.json`` (merged on write), ``report.html``, and the batch's index and summary if it has them."""
    from grader.report import render_submission, write_index

    student_dir = folder / result.student
    write_result(result, student_dir / "result.json")
    (student_dir / "report.html").write_text(render_submission(result))
    summary = folder / "summary.json"
    if not summary.is_file():
        return
    try:  # the batch's own members, in its order: a summary never gains students it did not grade
        members = [entry["student"] for entry in json.loads(summary.read_text()) if isinstance(entry, dict)]
    except (ValueError, TypeError, KeyError):
        members = students(folder)
    results = [result if name == result.student else read_result(folder / name / "result.json")
               for name in members if (folder / name / "result.json").is_file()]
    if results:
        write_index(results, folder)


@dataclass(frozen=True)
class Item:
    """One manual check of one student, as ``grader manual list`` shows it."""

    student: str
    check: str
    status: str  # "manual", or what happened instead (an error, skipped under a profile...)
    points: float | None  # None while pending
    max_points: float
    answer_chars: int
    stale: bool

    @property
    def pending(self) -> bool:
        return self.status == "manual" and self.points is None


def list_items(results_dir: Path, assignment: str, profile: str) -> list[Item]:
    """One row per manual check per student of the results folder, students in name order."""
    folder = profile_dir(results_dir, assignment, profile)
    items = []
    for student in students(folder):
        for check in read_result(folder / student / "result.json").checks:
            if check.kind != "manual":
                continue
            record = check.details.get("manual")
            record = record if isinstance(record, dict) and is_manual(check) else None
            items.append(Item(student, check.id, check.status, None if record is None else check.points,
                              check.max_points, len(str(check.details.get("answer", ""))),
                              bool(record and record.get("stale"))))
    return items
