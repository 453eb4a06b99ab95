"""The versioned results document: one per submission, plus the batch summary built from them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
CheckStatus = Literal["pass", "fail", "error", "timeout", "skipped", "manual"]  # manual: a TA grades it (grader/manual.py)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckResult(Model):
    id: str
    title: str
    kind: str
    visibility: str
    status: CheckStatus
    points: float
    max_points: float
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    figures: list[dict[str, Any]] = Field(default_factory=list, description="see grader/figures.py")
    duration_s: float | None = None


class CellResult(Model):
    cell: int
    type: str
    first_line: str
    status: str
    duration_s: float | None = None
    error: dict[str, Any] | None = None
    stdout: str = ""


class LoadResult(Model):
    """How loading the submission went: importing a module, or executing a notebook's cells."""

    status: str
    message: str = ""
    duration_s: float | None = None
    cells: list[CellResult] = Field(default_factory=list)


class SubmissionResult(Model):
    schema_version: int = SCHEMA_VERSION
    assignment: str
    title: str
    profile: str
    student: str
    submission: str
    kind: str
    status: Literal["graded", "ungraded"] = Field(description="ungraded: the grader itself failed on it")
    score: float
    max_score: float
    checks: list[CheckResult]
    load: LoadResult | None = None
    problems: list[str] = Field(default_factory=list, description="run-level problems a student should read first")
    figures: list[dict[str, Any]] = Field(default_factory=list, description="panels across checks (spec 'report')")
    timings: dict[str, float] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    isolation: dict[str, Any] = Field(default_factory=dict)
    reference: dict[str, Any] = Field(default_factory=dict)
    datasets: dict[str, Any] = Field(default_factory=dict, description="each dataset's copy, fingerprint and split")
    logs: dict[str, str] = Field(default_factory=dict)
    graded_at: str = ""
    grader_version: str = ""

    def check_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for check in self.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        return counts


def write_result(result: SubmissionResult, path: Path) -> None:
    """Write atomically: a crash mid-write never leaves half a document.

    TA grades stored beside the result (``manual.json``, see grader/manual.py) are merged into ``result``
    first, in place, so every writer (a batch re-grading, ``grader manual set``) keeps them and the report
    rendered from ``result`` afterwards shows them.
    """
    from grader.manual import merge_stored

    merge_stored(result, path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(result.model_dump_json(indent=2))
    os.replace(tmp, path)


def read_result(path: Path) -> SubmissionResult:
    return SubmissionResult.model_validate(json.loads(path.read_text()))
