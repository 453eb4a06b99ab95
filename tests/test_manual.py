"""Manual items: reading a written answer without running anything, TA grades that survive re-grading, the CLI.

No sandbox runs: answers are read from files written here, and results are built directly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import cli
from grader.artifacts import RunArtifacts
from grader.checks import get_kind
from grader.checks.base import Observation, ScoreContext
from grader.checks.manual import MAX_ANSWER_CHARS, Params, read_answer
from grader.errors import UsageError
from grader.manual import MANUAL_FILE, STALE, ManualGrade, apply_grades, read_grades, set_grade
from grader.plan import Plan, PlannedCheck
from grader.report import render_index, render_submission, write_index
from grader.results import CheckResult, SubmissionResult, read_result, write_result
from grader.sandbox.job import Outcome
from grader.scoring import score_checks

REPO = Path(__file__).resolve().parents[1]
TAG = "answer-residual"
PARAMS = Params(cell_tag=TAG, module_constant="ANSWER_RESIDUAL", rubric="Full marks: d(out)/d(x) = I + dF/dx.")
ANSWER = "The shortcut adds the identity,\nso the gradient reaches early layers <undiminished>."
SCRIPT = "<script>alert(1)</script>"


# --- reading the answer from a notebook ----------------------------------------------------------------


def cell(kind: str, source: Any, tags: list[str] | None = None) -> dict[str, Any]:
    metadata = {"tags": tags} if tags is not None else {}
    extra = {"outputs": [], "execution_count": None} if kind == "code" else {}
    return {"cell_type": kind, "metadata": metadata, "source": source, **extra}


def notebook(tmp_path: Path, *cells: dict[str, Any], name: str = "alice.ipynb") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_notebook_tagged_markdown_cell(tmp_path: Path) -> None:
    path = notebook(tmp_path, cell("markdown", "# HW"), cell("code", "x = 1"),
                    cell("markdown", ["The shortcut adds the identity,\n", "so the gradient ", "flows."], [TAG, "other"]))
    answer = read_answer(path, PARAMS)
    assert answer.text == "The shortcut adds the identity,\nso the gradient flows."
    assert answer.source == "cell 3" and not answer.problem
    assert answer.sha256 == hashlib.sha256(answer.text.encode()).hexdigest()


def test_notebook_several_tagged_cells_are_joined(tmp_path: Path) -> None:
    path = notebook(tmp_path, cell("markdown", "First part.", [TAG]), cell("code", "y = 2"),
                    cell("markdown", "Second part.", [TAG]))
    answer = read_answer(path, PARAMS)
    assert answer.text == "First part.\n\nSecond part."
    assert answer.source == "cells 1, 3"


def test_notebook_without_tagged_cell(tmp_path: Path) -> None:
    answer = read_answer(notebook(tmp_path, cell("markdown", "My answer, untagged."), cell("markdown", "x", ["other"])), PARAMS)
    assert answer.text == "" and answer.sha256 == ""
    assert f"No markdown cell tagged `{TAG}` was found" in answer.problem
    assert "View > Cell Toolbar > Tags" in answer.problem


def test_a_tagged_code_cell_is_not_an_answer(tmp_path: Path) -> None:
    answer = read_answer(notebook(tmp_path, cell("code", "ANSWER = 'x'", [TAG])), PARAMS)
    assert answer.text == ""
    assert "cell 1 carries the tag but is not a markdown cell" in answer.problem


@pytest.mark.parametrize("content", ["{not json", "[]", '{"cells": 3}'], ids=["invalid", "list", "cells-not-list"])
def test_unreadable_notebook_is_a_problem_not_a_crash(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    answer = read_answer(path, PARAMS)
    assert answer.text == "" and answer.problem


def test_an_empty_tagged_cell_is_no_answer(tmp_path: Path) -> None:
    answer = read_answer(notebook(tmp_path, cell("markdown", "  \n", [TAG])), PARAMS)
    assert answer.text == "" and "empty" in answer.problem


def test_a_long_answer_is_capped_and_hashed_whole(tmp_path: Path) -> None:
    text = "a" * (MAX_ANSWER_CHARS + 50)
    verdict = get_kind("manual").score(context(notebook(tmp_path, cell("markdown", text, [TAG]))))
    assert len(verdict.details["answer"]) == MAX_ANSWER_CHARS and verdict.details["truncated"] is True
    assert verdict.details["answer_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert "Only its first 20,000 characters are shown." in verdict.message


# --- reading the answer from a module -------------------------------------------------------------------


def module(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "bob.py"
    path.write_text(source)
    return path


def test_module_constant(tmp_path: Path) -> None:
    path = module(tmp_path, f'import torch\nANSWER_RESIDUAL = "draft"\n\ndef f():\n    ANSWER_RESIDUAL = "inner"\n\n'
                            f"ANSWER_RESIDUAL: str = {ANSWER!r}\nraise SystemExit('never executed')\n")
    answer = read_answer(path, PARAMS)
    assert answer.text == ANSWER  # the last module-level assignment, as executing it would leave it
    assert answer.source == "ANSWER_RESIDUAL"


def test_module_without_the_constant(tmp_path: Path) -> None:
    answer = read_answer(module(tmp_path, "def build_model():\n    pass\n"), PARAMS)
    assert answer.text == "" and "does not assign `ANSWER_RESIDUAL` at module level" in answer.problem


@pytest.mark.parametrize("value", ["42", 'f"{1 + 1}"', '"a" + "b"', "open('/etc/passwd').read()"])
def test_module_constant_not_a_string_literal(tmp_path: Path, value: str) -> None:
    answer = read_answer(module(tmp_path, f"ANSWER_RESIDUAL = {value}\n"), PARAMS)
    assert answer.text == "" and "not a plain string literal" in answer.problem


def test_module_with_a_syntax_error(tmp_path: Path) -> None:
    answer = read_answer(module(tmp_path, 'ANSWER_RESIDUAL = "fine"\ndef broken(:\n'), PARAMS)
    assert answer.text == "" and "could not be parsed (line 2)" in answer.problem


def test_module_when_the_spec_takes_notebooks_only(tmp_path: Path) -> None:
    answer = read_answer(module(tmp_path, 'ANSWER_RESIDUAL = "x"\n'), Params(cell_tag=TAG))
    assert answer.text == "" and "read from a notebook only" in answer.problem


def test_not_a_notebook_nor_a_module(tmp_path: Path) -> None:
    assert read_answer(tmp_path, PARAMS).problem  # a folder with several entries (submission.problem)
    link = tmp_path / "link.py"
    link.symlink_to(module(tmp_path, 'ANSWER_RESIDUAL = "x"\n'))
    assert read_answer(link, PARAMS).text == ""  # never followed: a link could point anywhere


# --- the kind and scoring ---------------------------------------------------------------------------------


def context(submission: Path | None) -> ScoreContext:
    return ScoreContext(check_id="answer_residual", title="Written answer", params=PARAMS, budget=None,
                        thresholds=None, profile="grade", seed=0, student=Observation(), reference=Observation(),
                        truth={}, submission=submission)


def test_the_spec_entry_validates() -> None:
    spec = yaml.safe_load((REPO / "assignments" / "resnet50_cifar10" / "spec.yaml").read_text())
    entry = next(c for c in spec["checks"] if c["id"] == "answer_residual")
    params = get_kind(entry["kind"]).Params.model_validate(entry["params"])
    assert params.cell_tag == TAG and params.module_constant == "ANSWER_RESIDUAL" and "Full marks" in params.rubric
    with pytest.raises(ValueError, match="identifier"):
        Params(cell_tag=TAG, module_constant="not a name")
    assert get_kind("manual").probe(None) == Observation()  # type: ignore[arg-type]  # nothing runs in the sandbox


def test_score_found_and_missing(tmp_path: Path) -> None:
    found = get_kind("manual").score(context(notebook(tmp_path, cell("markdown", ANSWER, [TAG]))))
    assert found.manual and found.fraction == 0.0
    assert found.message.startswith("Awaiting a TA's grade. Your answer (cell 1, ")
    assert found.details == {"answer": ANSWER, "rubric": PARAMS.rubric, "source": "cell 1",
                             "answer_sha256": hashlib.sha256(ANSWER.encode()).hexdigest()}
    missing = get_kind("manual").score(context(notebook(tmp_path, cell("markdown", ANSWER), name="b.ipynb")))
    assert missing.manual and missing.details["answer"] == "" and "No markdown cell tagged" in missing.message


def manual_plan(points: float = 3.0) -> Plan:
    check = PlannedCheck(id="answer_residual", kind="manual", title="Written answer", points=points, visibility="public",
                         hint="", params=PARAMS.model_dump(), budget={"timeout_s": 60}, thresholds={})
    return Plan(assignment="resnet50_cifar10", title="ResNet", profile="grade", device="cpu", seed=0, cpus=1,
                limits={"submission_s": 300, "cell_s": 60, "startup_s": 60}, interface={}, datasets=[], checks=[check])


def test_score_checks_reads_the_file_whatever_happened_to_the_run(tmp_path: Path) -> None:
    path = notebook(tmp_path, cell("markdown", ANSWER, [TAG]))
    killed = Outcome(exit_code=None, signal=9, duration_s=300.0, limit_hit="submission")
    (result,) = score_checks(manual_plan(), RunArtifacts(), killed, {}, {}, submission=path)
    assert (result.status, result.points, result.max_points) == ("manual", 0.0, 3.0)
    assert result.details["answer"] == ANSWER


def test_score_checks_without_a_submission_is_the_reference() -> None:
    """Calibration scores the reference with no submission file: skipped, so the reference still passes."""
    (result,) = score_checks(manual_plan(), RunArtifacts(), Outcome(0, None, 1.0), {}, {})
    assert (result.status, result.max_points, result.details) == ("skipped", 0.0, {})


# --- results with manual items, the store, merging ------------------------------------------------------


def make_result(student: str = "alice", answer: str = ANSWER, profile: str = "grade",
                status: str = "manual") -> SubmissionResult:
    sha = hashlib.sha256(answer.encode()).hexdigest() if answer else ""
    checks = [
        CheckResult(id="logits_shape", title="Logits shape", kind="architecture", visibility="public", status="pass",
                    points=2.0, max_points=2.0, message="ok"),
        CheckResult(id="answer_residual", title="Written answer", kind="manual", visibility="public", status=status,
                    points=0.0, max_points=3.0, message="Awaiting a TA's grade. Your answer (cell 4) was found.",
                    details={"answer": answer, "rubric": "Full marks: I + dF/dx", "answer_sha256": sha, "source": "cell 4"}),
    ]
    return SubmissionResult(assignment="resnet50_cifar10", title="ResNet-50", profile=profile, student=student,
                            submission=f"{student}.ipynb", kind="notebook", status="graded", score=2.0, max_score=5.0,
                            checks=checks)


def manual_check(result: SubmissionResult) -> CheckResult:
    return next(c for c in result.checks if c.id == "answer_residual")


def batch(tmp_path: Path, *results: SubmissionResult) -> Path:
    """What a batch leaves: result.json and report.html per student, index.html and summary.json."""
    folder = tmp_path / "reports" / "resnet50_cifar10" / results[0].profile
    for result in results:
        write_result(result, folder / result.student / "result.json")
        (folder / result.student / "report.html").write_text(render_submission(result))
    write_index(list(results), folder)
    return tmp_path / "reports"


def test_apply_grades_recomputes_the_score_and_is_idempotent() -> None:
    grade = ManualGrade(points=2.5, comment="Good; say why.", grader="ta1", graded_at="2026-01-01",
                        answer_sha256=hashlib.sha256(ANSWER.encode()).hexdigest())
    result = apply_grades(make_result(), {"answer_residual": grade})
    check = manual_check(result)
    assert (check.status, check.points, result.score) == ("manual", 2.5, 4.5)
    assert check.details["manual"] == {**grade.model_dump(), "stale": False}
    assert check.message == "Graded by a TA: 2.5 / 3 (ta1, 2026-01-01)\nComment: Good; say why."
    again = apply_grades(result.model_copy(deep=True), {"answer_residual": grade})
    assert again == result
    ungraded = apply_grades(result, {})  # the grade removed: back to the scorer's own message
    assert manual_check(ungraded).message == "Awaiting a TA's grade. Your answer (cell 4) was found."
    assert "manual" not in manual_check(ungraded).details and ungraded.score == 2.0


def test_grades_apply_only_to_scored_manual_items() -> None:
    grade = ManualGrade(points=3, graded_at="x")
    errored = apply_grades(make_result(status="error"), {"answer_residual": grade})  # e.g. the grader failed on it
    assert manual_check(errored).points == 0.0 and "manual" not in manual_check(errored).details
    plain = make_result().model_copy(update={"checks": make_result().checks[:1], "score": 7.0})
    assert apply_grades(plain, {"logits_shape": grade}).score == 7.0  # no manual item: left exactly as it was


def test_a_grade_above_a_lowered_maximum_is_clamped() -> None:
    sha = manual_check(make_result()).details["answer_sha256"]
    result = apply_grades(make_result(), {"answer_residual": ManualGrade(points=4, graded_at="x", answer_sha256=sha)})
    assert manual_check(result).points == 3.0 and "clamped" in manual_check(result).message and result.score == 5.0


def test_set_regrade_and_stale(tmp_path: Path) -> None:
    out = batch(tmp_path, make_result(), make_result("bob", answer=""))
    set_grade(out, "resnet50_cifar10", "grade", "alice", "answer_residual", 2, comment="first", grader="ta1")
    result = set_grade(out, "resnet50_cifar10", "grade", "alice", "answer_residual", 2.5, comment="second", grader="ta2")
    folder = out / "resnet50_cifar10" / "grade"
    stored = read_grades(folder / "alice")
    assert list(stored) == ["answer_residual"] and stored["answer_residual"].points == 2.5
    assert stored["answer_residual"].comment == "second" and stored["answer_residual"].grader == "ta2"
    assert stored["answer_residual"].answer_sha256 == hashlib.sha256(ANSWER.encode()).hexdigest()
    assert result.score == 4.5 and read_result(folder / "alice" / "result.json").score == 4.5

    # Re-grading writes a fresh result: the grade is merged in again.
    regraded = make_result()
    write_result(regraded, folder / "alice" / "result.json")
    assert regraded.score == 4.5 and manual_check(regraded).details["manual"]["stale"] is False

    # The student changed the answer: the grade is kept, and flagged.
    changed = make_result(answer="A different answer.")
    write_result(changed, folder / "alice" / "result.json")
    check = manual_check(read_result(folder / "alice" / "result.json"))
    assert check.points == 2.5 and check.details["manual"]["stale"] is True
    assert STALE in check.message and "Comment: second" in check.message


def test_an_unreadable_store_is_noted_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / MANUAL_FILE).write_text("{broken")
    result = make_result()
    write_result(result, folder / "result.json")
    assert read_result(folder / "result.json").score == 2.0
    assert "the TA grades file could not be read" in manual_check(result).message


@pytest.mark.parametrize(
    ("student", "check_id", "points", "error"),
    [("carol", "answer_residual", 1.0, "no result for student 'carol'"),
     ("alice", "nope", 1.0, "no check 'nope'"),
     ("alice", "logits_shape", 1.0, "is a architecture check, graded automatically, not a manual one"),
     ("alice", "answer_residual", -0.5, "points must be between 0 and 3"),
     ("alice", "answer_residual", 3.5, "points must be between 0 and 3"),
     ("alice", "answer_residual", float("nan"), "points must be between 0 and 3")],
)
def test_set_grade_refuses(tmp_path: Path, student: str, check_id: str, points: float, error: str) -> None:
    out = batch(tmp_path, make_result())
    with pytest.raises(UsageError, match=error):
        set_grade(out, "resnet50_cifar10", "grade", student, check_id, points)
    assert not (out / "resnet50_cifar10" / "grade" / "alice" / MANUAL_FILE).exists()


def test_set_grade_refuses_an_item_not_scored_as_manual(tmp_path: Path) -> None:
    out = batch(tmp_path, make_result(status="error"))
    with pytest.raises(UsageError, match="was not scored as a manual item"):
        set_grade(out, "resnet50_cifar10", "grade", "alice", "answer_residual", 1)


# --- the CLI --------------------------------------------------------------------------------------------


def test_cli_set_updates_result_report_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = batch(tmp_path, make_result(), make_result("bob"))
    folder = out / "resnet50_cifar10" / "grade"
    assert json.loads((folder / "summary.json").read_text())[0]["manual_pending"] == 1
    assert "manual: 2 pending" in (folder / "index.html").read_text()

    code = cli.main(["manual", "set", str(out), "resnet50_cifar10", "alice", "answer_residual", "2.5",
                     "--comment", "Right idea; say why the identity helps.", "--grader", "ta1"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "alice answer_residual: 2.5 / 3; total 4.5 / 5"
    result = read_result(folder / "alice" / "result.json")
    assert result.score == 4.5 and manual_check(result).details["manual"]["grader"] == "ta1"
    report = (folder / "alice" / "report.html").read_text()
    assert "TA: 2.5 / 3 — Right idea; say why the identity helps." in report and "Awaiting TA grade" not in report
    summary = {s["student"]: s for s in json.loads((folder / "summary.json").read_text())}
    assert (summary["alice"]["score"], summary["alice"]["manual_pending"]) == (4.5, 0)
    assert (summary["bob"]["score"], summary["bob"]["manual_pending"]) == (2.0, 1)
    assert "manual: 1 pending" in (folder / "index.html").read_text()

    assert cli.main(["manual", "list", str(out), "resnet50_cifar10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["student", "check", "points", "answer"]
    assert lines[1].split() == ["alice", "answer_residual", "2.5/3", str(len(ANSWER)), "chars"]
    assert lines[2].split() == ["bob", "answer_residual", "pending", str(len(ANSWER)), "chars"]
    assert cli.main(["manual", "list", str(out), "resnet50_cifar10", "--pending", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["student"], r["points"], r["answer_chars"]) for r in rows] == [("bob", None, len(ANSWER))]


def test_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = batch(tmp_path, make_result())
    assert cli.main(["manual", "set", str(out), "resnet50_cifar10", "alice", "answer_residual", "7"]) == 2
    assert "points must be between 0 and 3" in capsys.readouterr().err
    assert cli.main(["manual", "list", str(out), "resnet50_cifar10", "--profile", "check"]) == 2
    assert "no results for assignment 'resnet50_cifar10', profile 'check'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["manual", "set", str(out), "resnet50_cifar10", "alice", "answer_residual", "many"])
    assert exc.value.code == 2


def test_cli_help_lists_manual(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "manual" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["manual", "set", "--help"])
    assert "RESULTS_DIR ASSIGNMENT STUDENT CHECK_ID POINTS" in capsys.readouterr().out


# --- the report -----------------------------------------------------------------------------------------


def test_report_shows_the_answer_escaped_with_its_line_breaks() -> None:
    html = render_submission(make_result(answer=f"First line\n{SCRIPT}\nthird & last"))
    assert SCRIPT not in html
    assert '<div class="answer">First line\n&lt;script&gt;alert(1)&lt;/script&gt;\nthird &amp; last</div>' in html
    assert '<div class="rubric">Full marks: I + dF/dx</div>' in html
    assert "Awaiting TA grade: __ / 3" in html and "manual: 1 pending" in html
    command = "grader manual set RESULTS_DIR resnet50_cifar10 alice answer_residual POINTS --comment &#34;...&#34;"
    assert f"<code>{command}</code>" in html


def test_report_of_a_graded_and_a_stale_item() -> None:
    grade = ManualGrade(points=2, comment=f"ok {SCRIPT}", grader="ta1", graded_at="2026-01-02", answer_sha256="old")
    html = render_submission(apply_grades(make_result(), {"answer_residual": grade}))
    assert "TA: 2 / 3 — ok &lt;script&gt;" in html and SCRIPT not in html
    assert "graded by ta1 on 2026-01-02" in html and "stale: the answer changed after grading" in html
    assert "Awaiting TA grade" not in html and "pending" not in html


def test_report_of_a_missing_answer_and_the_check_profile() -> None:
    result = make_result(answer="", profile="check")
    html = render_submission(result)
    assert "No answer was found." in html
    assert "alice answer_residual POINTS --profile check" in html


def test_report_of_an_edited_result_file_does_not_break() -> None:
    result = make_result()
    manual_check(result).details.update(answer=["not", "text"], manual="not a record")
    html = render_submission(result)
    assert "No answer was found." in html


def test_index_counts_pending_items() -> None:
    graded = apply_grades(make_result("bob"), {"answer_residual": ManualGrade(points=1, graded_at="x")})
    html = render_index([make_result(), graded], generated="x")
    assert "manual: 1 pending" in html and "TA-graded 1 / 2" in html
