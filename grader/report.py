"""Rendering results: one self-contained HTML page per submission, an index per batch, a terminal summary.

Templates are autoescaped: everything a submission printed or raised is untrusted text.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from grader.figures import FIGURE_CSS, render_figures
from grader.results import SubmissionResult


def format_points(value: float) -> str:
    """``3``, ``2.5``, ``1.33``: points without noise."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("grader", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = format_points
    env.filters["figures"] = render_figures
    env.globals["figure_css"] = Markup(FIGURE_CSS)
    return env


def render_submission(result: SubmissionResult) -> str:
    return _environment().get_template("submission.html.j2").render(r=result)


def check_rows(results: list[SubmissionResult]) -> list[dict[str, Any]]:
    """Per-check pass rates over the graded submissions, in spec order."""
    rows: dict[str, dict[str, Any]] = {}
    for result in results:
        for check in result.checks:
            row = rows.setdefault(check.id, {"id": check.id, "title": check.title, "visibility": check.visibility,
                                             "max_points": check.max_points, "ran": 0, "passed": 0, "points": 0.0})
            if check.status != "skipped" and result.status == "graded":
                row["ran"] += 1
                row["passed"] += check.status == "pass"
                row["points"] += check.points
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
        generated=generated or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def write_index(results: list[SubmissionResult], folder: Path) -> Path:
    """``index.html`` and ``summary.json`` for a batch; returns the index's path."""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    index.write_text(render_index(results))
    summary = [{"student": r.student, "submission": r.submission, "status": r.status, "score": r.score,
                "max_score": r.max_score, "checks": {c.id: c.status for c in r.checks}} for r in results]
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
        flag = "  NOT GRADED" if r.status == "ungraded" else ""
        lines.append(f"  {r.student:<{width}}  {format_points(r.score):>6} / {format_points(r.max_score):<5} {counts}{flag}")
    return "\n".join(lines)
