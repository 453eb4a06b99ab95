"""Rendering results: one self-contained HTML page per submission, an index per batch, a terminal summary.

Templates are autoescaped: everything a submission printed or raised is untrusted text.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from grader.figures import FIGURE_CSS, render_figures
from grader.manual import is_manual, is_pending
from grader.results import CheckResult, SubmissionResult

MANUAL_CSS = (  # only on pages that have manual items, so other pages stay as they were
    ".manual { background: #e3eefc; color: #17406e; } .manual-item { margin: 1rem 0 1.5rem; }"
    " .manual-item h3 { font-size: 1rem; margin: 0 0 .4rem; }"
    " .answer, .rubric { white-space: pre-wrap; word-break: break-word; padding: .6rem; border-left: 3px solid #9bb8e0;"
    " background: #f6f9fd; margin: .2rem 0 .6rem; } .rubric { border-left-color: #c9ced8; background: #f8f8fa; }"
    " .grade { font-weight: 600; } .stale { color: #7a4100; font-weight: 600; }"
)


def format_points(value: float) -> str:
    """``3``, ``2.5``, ``1.33``: points without noise."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("grader", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = format_points
    env.filters["figures"] = render_figures
    env.globals["figure_css"] = Markup(FIGURE_CSS)
    env.globals["manual_css"] = Markup(MANUAL_CSS)
    env.globals["manual_items"] = manual_items
    env.globals["pending_count"] = pending_count
    return env


def pending_count(result: SubmissionResult) -> int:
    """Manual items of ``result`` still awaiting a TA's grade."""
    return sum(is_pending(c) for c in result.checks)


def manual_command(result: SubmissionResult, check_id: str, points: str = "POINTS") -> str:
    """The ``grader manual set`` line that grades one item (RESULTS_DIR: the folder graded into, ``--out``)."""
    words = ["grader", "manual", "set", "RESULTS_DIR", result.assignment, result.student, check_id, points]
    if result.profile != "grade":
        words += ["--profile", result.profile]
    return " ".join(w if w in ("RESULTS_DIR", "POINTS") else shlex.quote(w) for w in words) + ' --comment "..."'


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def manual_items(result: SubmissionResult) -> list[dict[str, Any]]:
    """What the page shows of each manual item, as plain strings (a result file may have been edited)."""
    items = []
    for check in result.checks:
        if not is_manual(check):
            continue
        record = check.details.get("manual")
        record = record if isinstance(record, dict) else None
        items.append({
            "id": check.id, "title": check.title, "points": check.points, "max_points": check.max_points,
            "answer": _text(check.details.get("answer")), "source": _text(check.details.get("source")),
            "rubric": _text(check.details.get("rubric")), "truncated": check.details.get("truncated") is True,
            "waiting": _text(check.details.get("pending_message")) or check.message,
            "graded": record is not None, "comment": _text((record or {}).get("comment")),
            "grader": _text((record or {}).get("grader")), "graded_at": _text((record or {}).get("graded_at")),
            "stale": bool((record or {}).get("stale")), "command": manual_command(result, check.id),
        })
    return items


def _has_manual(checks: list[CheckResult]) -> bool:
    return any(c.kind == "manual" for c in checks)


def render_submission(result: SubmissionResult) -> str:
    return _environment().get_template("submission.html.j2").render(r=result, has_manual=_has_manual(result.checks))


def check_rows(results: list[SubmissionResult]) -> list[dict[str, Any]]:
    """Per-check pass rates over the graded submissions, in spec order."""
    rows: dict[str, dict[str, Any]] = {}
    for result in results:
        for check in result.checks:
            row = rows.setdefault(check.id, {"id": check.id, "title": check.title, "visibility": check.visibility,
                                             "max_points": check.max_points, "ran": 0, "passed": 0, "points": 0.0,
                                             "manual": check.kind == "manual", "ta_graded": 0})
            if check.status != "skipped" and result.status == "graded":
                row["ran"] += 1
                row["passed"] += check.status == "pass"
                row["points"] += check.points
                row["ta_graded"] += is_manual(check) and not is_pending(check)
    for row in rows.values():
        row["mean_points"] = row["points"] / row["ran"] if row["ran"] else 0.0
    return list(rows.values())


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def render_index(results: list[SubmissionResult], generated: str | None = None) -> str:
    first = results[0]
    return _environment().get_template("index.html.j2").render(
        title=first.title, assignment=first.assignment, profile=first.profile, results=results,
        max_score=first.max_score, mean=_mean([r.score for r in results if r.status == "graded"]),
        ungraded=sum(r.status == "ungraded" for r in results), check_rows=check_rows(results),
        pending=sum(pending_count(r) for r in results), has_manual=any(_has_manual(r.checks) for r in results),
        generated=generated or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        isolation=", ".join(sorted({r.isolation["label"] for r in results if r.isolation.get("label")})),
    )


def write_index(results: list[SubmissionResult], folder: Path) -> Path:
    """``index.html`` and ``summary.json`` for a batch; returns the index's path."""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    index.write_text(render_index(results))
    summary = [{"student": r.student, "submission": r.submission, "status": r.status, "score": r.score,
                "max_score": r.max_score, "checks": {c.id: c.status for c in r.checks},
                **({"manual_pending": pending_count(r)} if _has_manual(r.checks) else {})} for r in results]
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return index


def terminal_summary(results: list[SubmissionResult]) -> str:
    """A compact table for the console."""
    if not results:
        return "No submissions found."
    width = max(len(r.student) for r in results)
    lines = []
    for r in results:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(r.check_counts().items()))
        counts += f" ({pending_count(r)} pending)" if pending_count(r) else ""
        flag = "  NOT GRADED" if r.status == "ungraded" else ""
        lines.append(f"  {r.student:<{width}}  {format_points(r.score):>6} / {format_points(r.max_score):<5} {counts}{flag}")
    return "\n".join(lines)
