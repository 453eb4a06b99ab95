"""The spec loader: the real spec loads, and every kind of broken spec names file, key and fix."""

from __future__ import annotations

import copy
import functools
import reprlib
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from grader.checks import KINDS, validate_check
from grader.cli import main
from grader.errors import SpecError
from grader.spec import AssignmentSpec, LoadedSpec, load_spec

REPO = Path(__file__).resolve().parents[1]
REAL_SPEC = REPO / "assignments" / "conv1x1" / "spec.yaml"


@functools.cache
def _parsed_real_spec() -> dict[str, Any]:
    return yaml.safe_load(REAL_SPEC.read_text())


def real_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the real spec's YAML (parsed once: PyYAML is slow)."""
    return copy.deepcopy(_parsed_real_spec())


def check_index(raw: dict[str, Any], kind: str) -> int:
    return next(i for i, c in enumerate(raw["checks"]) if c["kind"] == kind)


def write_variant(folder: Path, mutate: Callable[[dict[str, Any]], None]) -> Path:
    raw = real_raw()
    mutate(raw)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def spec_error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(path, root=REPO)
    return info.value


# --- the real spec -----------------------------------------------------------------------------------


def test_real_spec_loads() -> None:
    loaded = load_spec(REAL_SPEC, root=REPO)
    assert isinstance(loaded, LoadedSpec)
    assert loaded.spec.id == "conv1x1"
    assert loaded.reference_path == (REPO / "reference_solutions" / "conv1x1.py").resolve()
    assert loaded.reference_path.is_file()
    assert len(loaded.sha256) == 64
    assert {c.kind for c in loaded.spec.checks} <= set(KINDS)
    assert set(loaded.spec.profiles) == {"check", "grade"}


def test_real_spec_infers_repo_root() -> None:
    """``assignments/<id>/spec.yaml`` lives two levels below the repo root."""
    assert load_spec(REAL_SPEC).root == REPO.resolve()


def test_unmodified_round_trip_copy_loads(tmp_path: Path) -> None:
    """The dump/load used by every broken-copy test below does not itself break anything."""
    loaded = load_spec(write_variant(tmp_path, lambda raw: None), root=REPO)
    assert loaded.spec == load_spec(REAL_SPEC, root=REPO).spec


def test_hash_tracks_bytes(tmp_path: Path) -> None:
    a = load_spec(write_variant(tmp_path, lambda raw: None), root=REPO)
    b = load_spec(write_variant(tmp_path, lambda raw: raw.update(title="Another title")), root=REPO)
    assert a.sha256 != b.sha256


# --- broken specs: the message names the file, the key path and a fix ---------------------------------


def test_missing_file(tmp_path: Path) -> None:
    err = spec_error(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(err)
    assert "file not found" in str(err)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("id: conv1x1\ntitle: ok\nchecks:\n  - id: [unclosed\n    kind: shape\n")
    err = spec_error(path)
    assert err.path == str(path)
    assert str(path) in str(err)
    assert "YAML syntax error" in str(err)
    assert "line " in str(err)
    assert "(check indentation and quoting)" in str(err)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"id: caf\xe9\n")
    assert "not UTF-8" in str(spec_error(path))


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", ""], ids=["list", "scalar", "empty"])
def test_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    err = spec_error(path)
    assert str(path) in str(err)
    assert "(top level): expected a mapping" in str(err)


def test_unknown_top_level_key_lists_allowed_keys(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw.update(chekcs=[])))
    (problem,) = err.problems
    assert problem.startswith("chekcs: unknown key")
    assert "remove it or fix its spelling" in problem
    allowed = problem.split("allowed keys here: ", 1)[1]
    for key in AssignmentSpec.model_fields:
        assert key in allowed


def test_unknown_key_inside_a_check(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][2].update(colour="red")))
    (problem,) = err.problems
    assert problem.startswith("checks[2].colour: unknown key")
    assert "allowed keys here: budgets, hint, id, kind, params, points, thresholds, title, visibility" in problem


def test_unknown_key_in_nested_kind_params(tmp_path: Path) -> None:
    """Unknown keys inside a kind's own models are reported with that model's allowed keys."""

    def mutate(raw: dict[str, Any]) -> None:
        raw["checks"][check_index(raw, "training")]["params"]["optimizer"]["lr_decay"] = 0.1

    err = spec_error(write_variant(tmp_path, mutate))
    (problem,) = err.problems
    index = check_index(real_raw(), "training")
    assert problem.startswith(f"checks[{index}].params.optimizer.lr_decay: unknown key")
    assert "allowed keys here: lr, momentum, name, weight_decay" in problem


def test_unknown_key_in_profile_limits(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["profiles"]["grade"]["limits"].update(gpu_s=5)))
    (problem,) = err.problems
    assert problem.startswith("profiles.grade.limits.gpu_s: unknown key")
    assert "cell_s" in problem and "submission_s" in problem


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda raw: raw.pop("title"), "title"),
        (lambda raw: raw["checks"][0].pop("title"), "checks[0].title"),
        (lambda raw: raw["datasets"]["cifar"].pop("source"), "datasets.cifar.source"),
    ],
    ids=["top-level", "in-check", "in-dataset"],
)
def test_missing_required_key(tmp_path: Path, mutate: Callable[[dict[str, Any]], None], key: str) -> None:
    path = write_variant(tmp_path, mutate)
    err = spec_error(path)
    assert f"{path}: {key}: required key is missing (add it)" in str(err)


def test_unknown_check_kind_lists_known_kinds(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][1].update(kind="vibes")))
    (problem,) = err.problems
    assert problem.startswith("checks[1].kind: unknown check kind 'vibes'")
    assert f"(use one of: {', '.join(sorted(KINDS))})" in problem


def test_target_not_in_interface(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][0]["params"].update(target="PointwizeConv")))
    (problem,) = err.problems
    assert problem.startswith("checks[0].params: names 'PointwizeConv'")
    assert "interface" in problem
    assert "(add it under 'interface' or fix the name)" in problem


def test_pointwise_classes_must_be_in_interface(tmp_path: Path) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        for check in raw["checks"]:
            if check["params"].get("predicate") == "pointwise_channel_reduction":
                check["params"]["pointwise_classes"] = ["Conv1x1"]

    err = spec_error(write_variant(tmp_path, mutate))
    assert any("names 'Conv1x1'" in p for p in err.problems)


def test_training_check_with_undeclared_dataset(tmp_path: Path) -> None:
    index = check_index(real_raw(), "training")
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][index]["params"].update(dataset="imagenet")))
    (problem,) = err.problems
    assert problem == f"checks[{index}].params.dataset: 'imagenet' is not declared under 'datasets' (declare it)"


def test_unknown_dataset_source(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["datasets"]["cifar"].update(source="mnist_ftp")))
    (problem,) = err.problems
    assert problem.startswith("datasets.cifar.source: unknown dataset source 'mnist_ftp'")
    assert "use one of: mnist, fashion_mnist, cifar10" in problem


@pytest.mark.parametrize("section", ["budgets", "thresholds"])
def test_budget_or_threshold_for_unknown_profile(tmp_path: Path, section: str) -> None:
    index = check_index(real_raw(), "training")
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][index][section].update(fast={})))
    (problem,) = err.problems
    assert problem.startswith(f"checks[{index}].{section}:")
    assert "unknown profile 'fast'" in problem
    assert "use one of check, grade" in problem


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("thresholds", "loss_drop_vs_reference", "lots", "valid number"),
        ("thresholds", "min_accuracy", 1.5, "less than or equal to 1"),
        ("budgets", "epochs", 0, "greater than or equal to 1"),
        ("budgets", "epochs", "two", "valid integer"),
    ],
)
def test_bad_budget_or_threshold_value(tmp_path: Path, section: str, key: str, value: Any, expected: str) -> None:
    index = check_index(real_raw(), "training")
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][index][section]["check"].update({key: value})))
    (problem,) = err.problems
    assert problem.startswith(f"checks[{index}].{section}.check.{key}: ")
    assert expected in problem
    assert f"(got {value!r})" in problem


def test_duplicate_check_ids(tmp_path: Path) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["checks"][1]["id"] = raw["checks"][0]["id"]

    err = spec_error(write_variant(tmp_path, mutate))
    (problem,) = err.problems
    assert problem == "checks: duplicate check id 'pointwise_shapes'; give every check its own id"


def test_duplicate_check_ids_message_is_short_and_names_checks(tmp_path: Path) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["checks"][1]["id"] = raw["checks"][0]["id"]

    path = write_variant(tmp_path, mutate)
    (problem,) = spec_error(path).problems
    assert problem.startswith("checks: ")
    assert len(problem) < 500
    assert "(got" not in problem  # the spec is not echoed back
    assert f"{path}: checks: duplicate check id" in str(spec_error(path))


def test_own_validator_messages_have_no_pydantic_prefix(tmp_path: Path) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["checks"][1]["id"] = raw["checks"][0]["id"]
        raw["profiles"].pop("grade")

    problems = spec_error(write_variant(tmp_path, mutate)).problems
    assert len(problems) == 2  # both come from validators of ours, reported together
    assert not any("Value error" in p for p in problems)
    assert "checks: duplicate check id 'pointwise_shapes'; give every check its own id" in problems
    assert any(p.startswith("profiles: missing profile(s) grade") for p in problems)


@pytest.mark.parametrize("missing", ["grade", "check"])
def test_missing_profile(tmp_path: Path, missing: str) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["profiles"].pop(missing)))
    (problem,) = err.problems
    assert problem.startswith("profiles: ")
    assert f"missing profile(s) {missing}" in problem
    assert "define both 'check' and 'grade'" in problem


def test_unknown_profile(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["profiles"].update(fast={})))
    (problem,) = err.problems
    assert "unknown profile(s) fast" in problem


def test_reference_path_does_not_exist(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw.update(reference="reference_solutions/nope.py")))
    (problem,) = err.problems
    assert problem.startswith("reference: file 'reference_solutions/nope.py' not found under")
    assert "(fix the path)" in problem


@pytest.mark.parametrize("bad_id", ["Bad-ID", "1st", "", "a" * 65, "has space"])
def test_invalid_check_id(tmp_path: Path, bad_id: str) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][3].update(id=bad_id)))
    (problem,) = err.problems
    assert problem.startswith("checks[3].id: String should match pattern")
    assert problem.endswith(f"(got {reprlib.repr(bad_id)})")


def test_long_input_is_shortened(tmp_path: Path) -> None:
    long_id = "A" * 5000
    (problem,) = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][3].update(id=long_id))).problems
    assert problem.endswith("(got 'AAAAAAAAAAAA...AAAAAAAAAAAAA')")
    assert len(problem) < 200


def test_long_structured_input_is_shortened(tmp_path: Path) -> None:
    index = check_index(real_raw(), "training")
    huge = list(range(10_000))
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][index]["budgets"]["check"].update(epochs=huge)))
    (problem,) = err.problems
    assert problem.startswith(f"checks[{index}].budgets.check.epochs: ")
    assert problem.endswith(f"(got {reprlib.repr(huge)})") and "..." in problem
    assert len(problem) < 200


def test_invalid_assignment_id(tmp_path: Path) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw.update(id="Conv1x1")))
    assert err.problems[0].startswith("id: String should match pattern")


@pytest.mark.parametrize("points", [0, -1])
def test_points_must_be_positive(tmp_path: Path, points: int) -> None:
    err = spec_error(write_variant(tmp_path, lambda raw: raw["checks"][0].update(points=points)))
    assert err.problems[0].startswith("checks[0].points: Input should be greater than 0")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Kind-level problems of several checks, and the reference, are collected rather than stopping at the first."""

    def mutate(raw: dict[str, Any]) -> None:
        raw["checks"][0]["params"]["target"] = "Nope"
        raw["checks"][1]["kind"] = "vibes"
        raw["reference"] = "missing.py"

    err = spec_error(write_variant(tmp_path, mutate))
    assert [p.split(":", 1)[0] for p in err.problems] == ["checks[0].params", "checks[1].kind", "reference"]
    # every problem line carries the file name
    assert all(line.startswith(f"  {err.path}: ") for line in str(err).splitlines()[1:])


def test_spec_error_exit_code() -> None:
    assert SpecError("x.yaml", ["a: b (c)"]).exit_code == 2


# --- validate_check directly --------------------------------------------------------------------------


def test_validate_check_on_real_checks_is_clean() -> None:
    spec = load_spec(REAL_SPEC, root=REPO).spec
    for index, check in enumerate(spec.checks):
        assert validate_check(check, f"checks[{index}]", set(spec.interface), set(spec.datasets)) == []


def test_validate_check_reports_interface_and_dataset() -> None:
    spec = load_spec(REAL_SPEC, root=REPO).spec
    training = next(c for c in spec.checks if c.kind == "training")
    problems = validate_check(training, "here", interface=set(), datasets=set())
    assert problems == [
        "here.params: names 'build_model', which the spec's interface does not declare "
        "(add it under 'interface' or fix the name)",
        "here.params.dataset: 'cifar' is not declared under 'datasets' (declare it)",
    ]


def test_validate_check_missing_kind_param() -> None:
    spec = load_spec(REAL_SPEC, root=REPO).spec
    check = spec.checks[0].model_copy(update={"params": {}})
    problems = validate_check(check, "checks[0]", set(spec.interface), set(spec.datasets))
    assert "checks[0].params.target: required key is missing (add it)" in problems
    assert "checks[0].params.cases: required key is missing (add it)" in problems


# --- the CLI --------------------------------------------------------------------------------------------


def test_cli_validate_spec_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-spec", str(REAL_SPEC)]) == 0
    out, err = capsys.readouterr()
    assert "valid (conv1x1:" in out
    assert err == ""


def test_cli_validate_spec_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_variant(tmp_path, lambda raw: raw["checks"][0].update(kind="vibes"))
    assert main(["validate-spec", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: invalid assignment spec")
    assert "unknown check kind 'vibes'" in err


def test_cli_validate_spec_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-spec", str(tmp_path / "absent.yaml")]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("spec_path", sorted((REPO / "assignments").glob("*/spec.yaml")), ids=lambda p: p.parent.name)
def test_every_shipped_spec_plans_both_profiles(spec_path: Path) -> None:
    from grader.plan import build_plan

    loaded = load_spec(spec_path)
    for profile in ("check", "grade"):
        plan = build_plan(loaded, profile, device="cpu")
        assert plan.checks and plan.max_score > 0
        assert all(c.budget["timeout_s"] <= plan.limits["submission_s"] for c in plan.checks)
    starter = spec_path.parent / "starter.ipynb"
    assert starter.is_file(), f"{spec_path.parent.name} has no starter notebook"


def test_a_transfer_check_naming_an_undeclared_dataset(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "assignments" / "fashion_transfer" / "spec.yaml").read_text())
    raw["checks"][0]["params"]["target_dataset"] = "kmnist"
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match=r"checks\[0\]\.params\.target_dataset: 'kmnist' is not declared"):
        load_spec(path, root=REPO)
