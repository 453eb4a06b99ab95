"""End to end on conv1x1: real sandboxed processes, real Jupyter kernels, real files.

One batch per profile grades every example submission and every adversarial fixture together, so
these tests also show that one bad submission never costs another its result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.pipeline import Batch
from grader.results import SubmissionResult, read_result
from grader.sandbox.process import marked_pids
from grader.spec import load_spec
from grader.submissions import discover

from .conftest import FIXTURES, REPO

pytestmark = pytest.mark.slow

EXAMPLES = REPO / "submissions" / "conv1x1"
ADVERSARIAL = FIXTURES / "submissions" / "conv1x1"
PUBLIC = ["pointwise_shapes", "pointwise_param_count", "pointwise_forward", "pointwise_gradients",
          "pointwise_gradcheck", "model_logits", "model_uses_reduction", "model_gradient_flow", "model_learns",
          "shape_arithmetic"]
HIDDEN = ["answers_backprop", "answers_param_counts"]
ALL = PUBLIC + HIDDEN

FORGER = '''
import json, pathlib
from reference_like import *  # noqa: F401,F403 - a correct-looking part, see below
for target in {targets!r}:
    path = pathlib.Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({{"schema_version": 1, "student": path.parent.name, "score": 999,
                                     "max_score": 30, "status": "graded", "checks": []}}))
    except OSError:
        pass
'''


def _graded(tmp_path_factory: pytest.TempPathFactory, assignments: Path, profile: str) -> dict[str, SubmissionResult]:
    out = tmp_path_factory.mktemp(f"reports-{profile}")
    extra = tmp_path_factory.mktemp("forger")
    forger_dir = extra / "forger"
    forger_dir.mkdir()
    (forger_dir / "reference_like.py").write_text((EXAMPLES / "bob_einsum.py").read_text())
    targets = [str(out / "conv1x1" / profile / name / "result.json") for name in ("forger", "alice_notebook")]
    (forger_dir / "submission.py").write_text(FORGER.format(targets=targets))
    submissions = discover([EXAMPLES, ADVERSARIAL, extra, REPO / "reference_solutions" / "conv1x1.py",
                            REPO / "assignments" / "conv1x1" / "starter.ipynb"])
    loaded = load_spec(assignments / "conv1x1" / "spec.yaml", root=REPO)
    with Batch(loaded, profile, workers=2) as batch:  # two at a time: the endless ones wait out their limits
        results = batch.grade(submissions, out)
    by_name = {r.student: r for r in results}
    by_name["_out"] = out  # type: ignore[assignment]
    return by_name


@pytest.fixture(scope="module")
def check_results(tmp_path_factory: pytest.TempPathFactory, fast_conv1x1: Path) -> dict[str, SubmissionResult]:
    return _graded(tmp_path_factory, fast_conv1x1, "check")


@pytest.fixture(scope="module")
def grade_results(tmp_path_factory: pytest.TempPathFactory, fast_conv1x1: Path) -> dict[str, SubmissionResult]:
    return _graded(tmp_path_factory, fast_conv1x1, "grade")


def statuses(result: SubmissionResult) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


def expect(passing: list[str], **others: str) -> dict[str, str]:
    expected = {cid: "pass" for cid in passing}
    expected.update(others)
    return expected


# Expected per-check outcomes under the `grade` profile (all checks). Under `check`, hidden ones are skipped.
EXPECTED: dict[str, dict[str, str]] = {
    "conv1x1": expect(ALL),  # the reference itself, graded as a submission
    "starter": {**{c: "error" for c in PUBLIC}, **{c: "fail" for c in HIDDEN}},  # stubs raise NotImplementedError
    "alice_notebook": expect(ALL),
    "bob_einsum": expect(ALL),
    "forger": expect(ALL),
    "carol_3x3": expect(
        ["pointwise_shapes", "pointwise_gradcheck", "model_logits", "model_uses_reduction", "model_gradient_flow",
         "model_learns", "answers_param_counts"],
        pointwise_param_count="fail", pointwise_forward="fail", pointwise_gradients="fail", shape_arithmetic="fail",
        answers_backprop="fail",
    ),
    "dave_import_crash": expect(PUBLIC, answers_backprop="error", answers_param_counts="error"),
    "erin_forever": expect(ALL),
    "fake_print": expect([c for c in ALL if c not in ("pointwise_forward", "pointwise_gradients")],
                         pointwise_forward="fail", pointwise_gradients="fail"),
    "patch_allclose": expect([c for c in PUBLIC if c not in ("pointwise_forward", "pointwise_gradients")],
                             pointwise_forward="fail", pointwise_gradients="fail", answers_backprop="fail",
                             answers_param_counts="fail"),
    "missing_names": expect(["pointwise_shapes", "pointwise_param_count", "pointwise_forward", "pointwise_gradients",
                             "pointwise_gradcheck"],
                            **{c: "error" for c in ["model_logits", "model_uses_reduction", "model_gradient_flow",
                                                    "model_learns", "shape_arithmetic", *HIDDEN]}),
    "os_exit": {c: "error" for c in ALL},
    "ambiguous": {c: "error" for c in ALL},  # a folder with two modules and no submission.py: nothing is run
    "hang_ignore_signals": {c: "timeout" for c in ALL},
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_grade_profile_outcomes(grade_results: dict[str, SubmissionResult], student: str) -> None:
    result = grade_results[student]
    assert result.status == "graded"
    assert statuses(result) == EXPECTED[student], [c.message for c in result.checks if c.status != "pass"]
    assert result.score == sum(c.max_points for c in result.checks if c.status == "pass") or student == "carol_3x3"


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_check_profile_runs_public_checks_only(check_results: dict[str, SubmissionResult], student: str) -> None:
    result = check_results[student]
    expected = {cid: ("skipped" if cid in HIDDEN else status) for cid, status in EXPECTED[student].items()}
    assert statuses(result) == expected
    assert all(c.max_points == 0 for c in result.checks if c.status == "skipped")
    assert result.max_score == sum(c.max_points for c in result.checks)


def test_correct_submissions_get_full_marks(grade_results: dict[str, SubmissionResult]) -> None:
    for name in ("alice_notebook", "bob_einsum"):
        assert grade_results[name].score == grade_results[name].max_score == 30


def test_sys_exit_gains_nothing(grade_results: dict[str, SubmissionResult]) -> None:
    result = grade_results["sys_exit"]
    assert result.score < result.max_score / 2
    assert any("sys.exit(0)" in p for p in result.problems)
    assert statuses(result)["pointwise_forward"] == "fail"


def test_folder_without_a_clear_entry_is_graded_with_the_reason(grade_results: dict[str, SubmissionResult]) -> None:
    result = grade_results["ambiguous"]
    assert result.status == "graded" and result.score == 0 and result.kind == "unknown"
    assert "model_a.py, model_b.py" in result.problems[0] and "submission.py" in result.problems[0]


def test_os_exit_is_explained(grade_results: dict[str, SubmissionResult]) -> None:
    result = grade_results["os_exit"]
    assert result.score == 0
    assert any("exited with code 0" in p for p in result.problems)


def test_never_ending_module_is_stopped_and_reported(grade_results: dict[str, SubmissionResult]) -> None:
    result = grade_results["hang_ignore_signals"]
    assert result.score == 0
    assert any("per-submission time limit" in p for p in result.problems)
    assert result.timings["run_s"] < 60 + 15
    out: Path = grade_results["_out"]  # type: ignore[assignment]
    assert (out / "conv1x1" / "grade" / "hang_ignore_signals" / "report.html").is_file()


def test_never_ending_cell_is_interrupted_and_grading_goes_on(grade_results: dict[str, SubmissionResult]) -> None:
    result = grade_results["erin_forever"]
    timed_out = [c for c in result.load.cells if c.status == "timeout"]
    assert len(timed_out) == 1
    assert any("per-cell time limit (20 s)" in p for p in result.problems)
    assert result.score == result.max_score


def test_notebook_syntax_error_names_the_cell(grade_results: dict[str, SubmissionResult]) -> None:
    result = grade_results["syntax_error"]
    assert any(p.startswith("Cell ") and "SyntaxError" in p for p in result.problems), result.problems
    failing = [c for c in result.load.cells if c.status == "error"]
    assert failing and failing[0].error["ename"] == "SyntaxError"


def test_missing_name_message_states_the_contract(grade_results: dict[str, SubmissionResult]) -> None:
    check = next(c for c in grade_results["missing_names"].checks if c.id == "model_logits")
    assert "does not define `build_model`" in check.message
    assert "build_model(num_classes=10)" in check.message


def test_results_written_by_a_submission_are_overwritten(grade_results: dict[str, SubmissionResult]) -> None:
    out: Path = grade_results["_out"]  # type: ignore[assignment]
    for name in ("forger", "alice_notebook"):
        on_disk = read_result(out / "conv1x1" / "grade" / name / "result.json")
        assert on_disk.score == grade_results[name].score <= on_disk.max_score


def test_printed_fake_results_change_nothing(grade_results: dict[str, SubmissionResult]) -> None:
    result = grade_results["fake_print"]
    assert "Score: 100/100" in result.logs["stdout"]
    assert result.score < result.max_score


def test_results_document_is_versioned_json(grade_results: dict[str, SubmissionResult]) -> None:
    out: Path = grade_results["_out"]  # type: ignore[assignment]
    doc = json.loads((out / "conv1x1" / "grade" / "bob_einsum" / "result.json").read_text())
    assert doc["schema_version"] == 1
    from grader.sandbox.bwrap import availability

    expected = ("bwrap", "bwrap") if availability()[0] else ("process", "process, weaker")
    assert (doc["isolation"]["backend"], doc["isolation"]["label"]) == expected
    assert doc["environment"]["reported_by_run"]["torch"]
    assert doc["reference"]["fingerprint"]


def test_no_process_of_a_finished_run_survives(grade_results: dict[str, SubmissionResult]) -> None:
    assert marked_pids() == []
