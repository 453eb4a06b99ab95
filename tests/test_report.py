"""HTML reports and the terminal summary.

Golden files: ``tests/golden/*.html`` hold the expected pages. After a deliberate template change,
regenerate them with ``UPDATE_GOLDEN=1 python -m pytest tests/test_report.py``, look at the diff, and
commit them with the change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from grader.artifacts import sanitize_load
from grader.report import check_rows, format_points, render_index, render_submission, terminal_summary
from grader.results import CellResult, CheckResult, LoadResult, SubmissionResult

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SCRIPT = "<script>alert(1)</script>"


def assert_matches_golden(text: str, name: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing; create it with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; if intended, regenerate with UPDATE_GOLDEN=1"


def check(id: str, status: str, points: float, max_points: float, **extra: Any) -> CheckResult:
    return CheckResult(id=id, title=f"Title of {id}", kind=extra.pop("kind", "shape"), visibility=extra.pop("visibility", "public"),
                       status=status, points=points, max_points=max_points, message=extra.pop("message", f"{id}: {status}"),
                       **extra)


def make_result(student: str = "alice", *, statuses: dict[str, str] | None = None, status: str = "graded",
                problems: list[str] | None = None) -> SubmissionResult:
    """A fixed result with a check in every status (overridable), a notebook load, logs with HTML in them."""
    statuses = statuses or {}
    points = {"pass": 1.0, "fail": 0.5, "error": 0.0, "timeout": 0.0, "skipped": 0.0}

    def make(id: str, default: str, max_points: float, **extra: Any) -> CheckResult:
        s = statuses.get(id, default)
        earned = max_points if s == "pass" else points[s] * max_points if s == "fail" else 0.0
        return check(id, s, earned, 0.0 if s == "skipped" else max_points, **extra)

    checks = [
        make("shapes", "pass", 2, duration_s=0.25, message="6 of 6 configurations gave the expected output shape."),
        make("params", "fail", 2, duration_s=1.0, message=f"1 of 2 correct\n- PointwiseConv(...) printed {SCRIPT}\nHint: count again"),
        make("forward", "error", 3, kind="forward_equivalence", message="Your code raised an error: ValueError: bad <b>shape</b>"),
        make("training", "timeout", 4, kind="training", message="Stopped: the check's time limit (120 s) was hit."),
        make("answers", "skipped", 4, kind="numeric_answers", visibility="hidden",
             message="Hidden check: runs only under the 'grade' profile, not under 'check'."),
    ]
    score = sum(c.points for c in checks)
    load = LoadResult(status="error", message="2 cells raised errors", cells=[
        CellResult(cell=0, type="markdown", first_line="# HW3", status="ok"),
        CellResult(cell=1, type="code", first_line="import torch", status="ok", duration_s=1.25, stdout="hello & goodbye"),
        CellResult(cell=2, type="code", first_line="x = 1 / 0", status="error", duration_s=0.01,
                   error={"ename": "ZeroDivisionError", "evalue": "division by zero " + "x" * 200,
                          "traceback": f"Traceback (most recent call last):\n  {SCRIPT}\nZeroDivisionError: division by zero"}),
        CellResult(cell=3, type="code", first_line="while True: pass", status="timeout", duration_s=60.0,
                   error={"ename": "KeyboardInterrupt", "evalue": "", "traceback": "KeyboardInterrupt"}),
        CellResult(cell=4, type="code", first_line="train(epochs=100)  # skip-grading", status="skipped"),
    ])
    return SubmissionResult(
        assignment="conv1x1", title="1x1 convolutions", profile="check", student=student,
        submission=f"{student}.ipynb", kind="notebook", status=status, score=score, max_score=sum(c.max_points for c in checks),
        checks=checks, load=load,
        problems=problems if problems is not None else [f"Cell 2 (x = 1 / 0) raised ZeroDivisionError: {SCRIPT}",
                                                        "Cell 3 hit the per-cell time limit (60 s)."],
        timings={"run": 12.5, "score": 0.125},
        environment={"reported_by_run": {"python": "3.12.1", "torch": "2.5.0", "device": "cpu"}},
        isolation={"label": "process, weaker", "namespaces": "user+net+pid", "warnings": ["no seccomp filter"],
                   "usage": {"peak_memory_mb": 612.5, "disk_mb": 0.4}, "limits_hit": ["output"],
                   "limits_profile": {"cell_s": 60, "memory_mb": 8192, "submission_s": 300}},
        reference={"fingerprint": "0123456789abcdef0123456789abcdef"},
        datasets={"cifar": {"description": "CIFAR-10: 900 training, 100 validation, 500 hidden evaluation images",
                            "canonical": False, "content_fingerprint": "fedcba9876543210fedcba9876543210",
                            "split": {"seed": 3, "indices_sha256": "00112233445566778899",
                                      "indices_file": "../_splits/cifar-001122334455.npz"}}},
        logs={"stdout": f"training...\n{SCRIPT}\n", "stderr": "", "grader": "a & b < c"},
        graded_at="2026-01-01T12:00:00+00:00", grader_version="0.1.0",
    )


def index_results() -> list[SubmissionResult]:
    """Three submissions under profile 'check' (the hidden check is skipped for all): mixed, good, ungraded."""
    return [
        make_result("alice"),
        make_result("bob", statuses={"shapes": "fail", "params": "pass", "forward": "pass", "training": "pass"}, problems=[]),
        make_result("carol", status="ungraded", statuses=dict.fromkeys(["shapes", "params", "forward", "training"], "error"),
                    problems=[f"The grader failed on this submission: RuntimeError: {SCRIPT} " + "y" * 200]),
    ]


# --- golden pages ---------------------------------------------------------------------------------------


def test_submission_report_golden() -> None:
    assert_matches_golden(render_submission(make_result()), "submission_report.html")


def test_index_report_golden() -> None:
    assert_matches_golden(render_index(index_results(), generated="2026-01-01T00:00:00+00:00"), "index_report.html")


def test_rendering_is_deterministic() -> None:
    assert render_submission(make_result()) == render_submission(make_result())


# --- escaping -------------------------------------------------------------------------------------------


def test_submission_report_escapes_untrusted_text() -> None:
    html = render_submission(make_result())
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "bad &lt;b&gt;shape&lt;/b&gt;" in html
    assert "hello &amp; goodbye" in html
    assert "a &amp; b &lt; c" in html


def test_index_report_escapes_untrusted_text() -> None:
    html = render_index(index_results(), generated="now")
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html


def test_submission_report_content() -> None:
    html = render_submission(make_result())
    for c in make_result().checks:
        assert f'id="check-{c.id}"' in html
    assert "# HW3" not in html  # markdown cells are not listed
    assert "(self-check: public checks only)" in html
    assert "Log: stdout" in html and "Log: stderr" not in html  # empty logs are left out
    assert "0123456789abcdef" in html and "0123456789abcdef0" not in html  # fingerprint shortened
    assert "<strong>not the canonical release</strong>" in html and "../_splits/cifar-001122334455.npz" in html


def test_index_report_content() -> None:
    html = render_index(index_results(), generated="2026-01-01T00:00:00+00:00")
    assert html.count('<a href="') == 3
    assert '<a href="carol/report.html">carol</a>' in html
    assert "1 not graded" in html
    assert "2026-01-01T00:00:00+00:00" in html


def test_index_mean_counts_only_graded_submissions() -> None:
    alice, bob, carol = index_results()
    assert (alice.score, bob.score, carol.status) == (3.0, 10.0, "ungraded")
    carol.score = 100.0  # whatever an ungraded result says, it does not move the mean
    assert "mean score 6.5 / 11" in render_index([alice, bob, carol], generated="x")
    assert "mean score 6.5 / 11" in render_index([alice, bob], generated="x")


def test_index_mean_when_nothing_was_graded() -> None:
    html = render_index([make_result("carol", status="ungraded")], generated="x")
    assert "mean score 0 / 11" in html and "1 not graded" in html


# --- check_rows -----------------------------------------------------------------------------------------


def test_check_rows_pass_rates() -> None:
    rows = {row["id"]: row for row in check_rows(index_results())}
    assert list(rows) == ["shapes", "params", "forward", "training", "answers"]  # spec order
    # carol is ungraded: none of her checks count.
    assert (rows["shapes"]["ran"], rows["shapes"]["passed"]) == (2, 1)
    assert rows["shapes"]["mean_points"] == pytest.approx((2.0 + 1.0) / 2)
    assert (rows["params"]["ran"], rows["params"]["passed"]) == (2, 1)
    assert rows["params"]["mean_points"] == pytest.approx((1.0 + 2.0) / 2)
    assert (rows["forward"]["ran"], rows["forward"]["passed"]) == (2, 1)
    assert (rows["training"]["ran"], rows["training"]["passed"]) == (2, 1)
    # skipped everywhere: not run at all
    assert (rows["answers"]["ran"], rows["answers"]["passed"], rows["answers"]["mean_points"]) == (0, 0, 0.0)
    assert rows["answers"]["visibility"] == "hidden"


def test_check_rows_skipped_excluded_but_others_counted() -> None:
    graded = make_result("dave", statuses={"answers": "pass"})
    rows = {row["id"]: row for row in check_rows([make_result("alice"), graded])}
    assert (rows["answers"]["ran"], rows["answers"]["passed"]) == (1, 1)
    assert rows["answers"]["mean_points"] == pytest.approx(4.0)


def test_check_rows_nothing_ran() -> None:
    rows = check_rows([make_result(statuses={"shapes": "skipped"}), make_result("bob", status="ungraded")])
    shapes = next(r for r in rows if r["id"] == "shapes")
    assert shapes["ran"] == 0 and shapes["passed"] == 0 and shapes["mean_points"] == 0.0
    assert "not run" in render_index([make_result(statuses={"shapes": "skipped"})], generated="x")


def test_check_rows_empty() -> None:
    assert check_rows([]) == []


# --- format_points and terminal_summary -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3"), (3.0, "3"), (0, "0"), (0.0, "0"), (2.5, "2.5"), (1 / 3 * 4, "1.33"), (0.1 + 0.2, "0.3"),
     (10.001, "10"), (9.999, "10"), (2.10, "2.1"), (-1.5, "-1.5"), (100, "100")],
)
def test_format_points(value: float, text: str) -> None:
    assert format_points(value) == text


def test_terminal_summary_empty() -> None:
    assert terminal_summary([]) == "No submissions found."


def test_terminal_summary() -> None:
    lines = terminal_summary(index_results()).splitlines()
    assert len(lines) == 3
    alice, bob, carol = lines
    assert alice == "  alice       3 / 11    1 error, 1 fail, 1 pass, 1 skipped, 1 timeout"
    assert bob == "  bob        10 / 11    1 fail, 3 pass, 1 skipped"
    assert carol.endswith("  NOT GRADED")
    assert "NOT GRADED" not in alice + bob


ODD_LOADS: dict[str, Any] = {
    "partial-error": {"status": "error", "cells": [{"cell": 9, "type": "code", "first_line": "x", "status": "error",
                                                    "error": {"ename": "OddError"}}]},
    "int-evalue": {"status": "error", "cells": [{"cell": 9, "type": "code", "first_line": "x", "status": "error",
                                                 "error": {"ename": "OddError", "evalue": 5, "traceback": ""}}]},
    "error-not-dict": {"status": "error", "message": "OddError", "cells": [
        {"cell": 9, "type": "code", "first_line": "x", "status": "error", "error": "OddError"}]},
    "odd-types": {"status": ["OddError"], "message": {"a": 1}, "duration_s": "slow", "cells": [
        {"cell": "9", "type": "code", "first_line": None, "status": 3, "duration_s": True, "stdout": [1, 2],
         "error": {"ename": ["OddError"], "evalue": None, "traceback": {"tb": 1}}}]},
    "cells-not-list": {"status": "OddError", "cells": {"cell": 9}},
    "cells-not-dicts": {"status": "OddError", "cells": ["x", 3, None]},
    "untyped-cell": {"status": "ok", "cells": [{"status": "error", "error": {"ename": "OddError"}}]},
    "html": {"status": "ok", "cells": [{"cell": 9, "type": "code", "first_line": SCRIPT, "status": SCRIPT,
                                        "error": {"ename": "OddError", "evalue": SCRIPT, "traceback": SCRIPT}}]},
}


@pytest.mark.parametrize("raw", list(ODD_LOADS.values()), ids=list(ODD_LOADS))
def test_submission_report_survives_odd_load_record(raw: dict[str, Any]) -> None:
    """Whatever runner.json claimed about loading, its sanitised form renders (and stays escaped)."""
    result = make_result()
    result.load = sanitize_load(raw)
    html = render_submission(result)
    assert "Loading the submission" in html
    assert SCRIPT not in html


@pytest.mark.parametrize("error", [{"ename": "X"}, {"ename": "X", "evalue": 5, "traceback": ""}], ids=["partial", "int-evalue"])
def test_submission_report_survives_odd_cell_error(error: dict[str, Any]) -> None:
    result = make_result()
    loaded = sanitize_load({"status": "error", "cells": [
        {"cell": 9, "type": "code", "first_line": "odd cell", "status": "error", "error": error}]})
    assert result.load is not None and loaded is not None
    result.load.cells.extend(loaded.cells)
    html = render_submission(result)
    assert "<code>odd cell</code>" in html
    assert "<summary>X: " in html
    if error.get("evalue") == 5:
        assert "<summary>X: 5</summary>" in html


def test_figures_render_in_the_check_row_and_as_panels() -> None:
    import numpy as np

    from grader import figures

    grid = figures.image_grid([np.zeros((2, 4, 4)), np.ones((2, 4, 4))], ["images", SCRIPT], title="grid")
    result = SubmissionResult(
        assignment="a", title="T", profile="check", student="s", submission="s.py", kind="module", status="graded",
        score=1, max_score=1, checks=[check("recon", "pass", 1, 1, figures=[grid])],
        figures=[figures.line_chart("curves", [("(a) scratch", [1.0, 0.5])]),
                 figures.table("acc", ["", "accuracy"], [["(a) scratch", 0.8]])],
    )
    page = render_submission(result)
    assert page.count('src="data:image/png;base64,') == 1 and "<svg" in page and "figure-table" in page
    assert "<h2>Figures</h2>" in page and ".figure {" in page.replace(".figure{", ".figure {")
    assert SCRIPT not in page
    plain = render_submission(result.model_copy(update={"figures": [], "checks": [check("x", "pass", 1, 1)]}))
    assert "<h2>Figures</h2>" not in plain and "figure-table" not in plain
