"""Deterministic test-case generation: same seed, same cases, on both sides of the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from grader.sampling import derived_seed, describe_call, resolve_cases

CONV_CASES: list[dict[str, Any]] = [
    {
        "init": {"in_channels": {"randint": [1, 16]}, "out_channels": {"randint": [1, 16]}, "bias": {"choice": [True, False]}},
        "input": [{"randint": [1, 4]}, "$in_channels", {"randint": [1, 9]}, {"randint": [1, 9]}],
        "repeat": 6,
    }
]


def test_same_seed_same_cases() -> None:
    assert resolve_cases(CONV_CASES, 1234) == resolve_cases(CONV_CASES, 1234)


def test_different_seeds_differ() -> None:
    drawn = [resolve_cases(CONV_CASES, seed) for seed in range(5)]
    assert len({repr(cases) for cases in drawn}) == 5


def test_resolving_does_not_mutate_the_template() -> None:
    template = [{"init": {"n": {"randint": [1, 3]}}, "repeat": 2}]
    before = repr(template)
    resolve_cases(template, 0)
    assert repr(template) == before


@pytest.mark.parametrize("repeat", [1, 3, 10])
def test_repeat_expands_and_is_removed(repeat: int) -> None:
    cases = resolve_cases([{"init": {"n": {"randint": [0, 1000]}}, "repeat": repeat}], seed=7)
    assert len(cases) == repeat
    assert all(set(case) == {"init"} for case in cases)


def test_repeat_defaults_to_one_and_cases_keep_order() -> None:
    cases = resolve_cases([{"args": ["first"]}, {"args": ["second"], "repeat": 2}, {"args": ["third"]}], seed=0)
    assert [c["args"][0] for c in cases] == ["first", "second", "second", "third"]


def test_plain_values_pass_through() -> None:
    case = {"init": {"in_channels": 3, "bias": True, "name": "x"}, "input": [2, 3, 4, 4], "kwargs": {"k": None}}
    assert resolve_cases([case], seed=0) == [case]


def test_no_init_means_no_init_key() -> None:
    (case,) = resolve_cases([{"args": [1, {"randint": [5, 5]}]}], seed=0)
    assert case == {"args": [1, 5]}


def test_dollar_names_refer_to_drawn_init() -> None:
    for case in resolve_cases(CONV_CASES, seed=99):
        assert case["input"][1] == case["init"]["in_channels"]
        assert 1 <= case["input"][0] <= 4
        assert all(1 <= d <= 9 for d in case["input"][2:])


def test_dollar_names_nested_in_dicts_and_lists() -> None:
    (case,) = resolve_cases([{"init": {"c": {"randint": [2, 9]}}, "kwargs": {"shape": [["$c"], {"deep": "$c"}]}}], 3)
    c = case["init"]["c"]
    assert case["kwargs"] == {"shape": [[c], {"deep": c}]}


def test_unknown_dollar_name_raises() -> None:
    with pytest.raises(KeyError, match=r"\$out_channels"):
        resolve_cases([{"init": {"in_channels": 3}, "input": [1, "$out_channels", 4, 4]}], seed=0)


def test_dollar_name_inside_init_is_not_allowed() -> None:
    """``init`` is drawn first, with nothing in scope: it cannot refer to itself."""
    with pytest.raises(KeyError):
        resolve_cases([{"init": {"a": 1, "b": "$a"}}], seed=0)


def test_randint_bounds_are_inclusive() -> None:
    cases = resolve_cases([{"args": [{"randint": [0, 2]}], "repeat": 300}], seed=11)
    assert {c["args"][0] for c in cases} == {0, 1, 2}


def test_randint_degenerate_range_and_python_int() -> None:
    cases = resolve_cases([{"args": [{"randint": [5, 5]}], "repeat": 20}], seed=0)
    assert all(c["args"][0] == 5 and type(c["args"][0]) is int for c in cases)


def test_choice_picks_every_option_and_only_them() -> None:
    options = ["a", 2, True, None]
    cases = resolve_cases([{"args": [{"choice": options}], "repeat": 300}], seed=5)
    picked = [c["args"][0] for c in cases]
    assert {repr(p) for p in picked} == {repr(o) for o in options}


def test_mapping_with_extra_keys_is_not_a_generator() -> None:
    value = {"randint": [1, 2], "note": "not a generator"}
    (case,) = resolve_cases([{"kwargs": {"v": value}}], seed=0)
    assert case["kwargs"]["v"]["note"] == "not a generator"
    assert case["kwargs"]["v"]["randint"] == [1, 2]


def test_case_order_is_part_of_the_stream() -> None:
    """Cases share one generator: a case's draws depend on the cases before it (and that is stable)."""
    a = {"args": [{"randint": [0, 10**9]}]}
    b = {"args": [{"randint": [0, 10**9]}]}
    alone = resolve_cases([b], seed=1)
    after = resolve_cases([a, b], seed=1)
    assert after[1] != alone[0]
    assert resolve_cases([a, b], seed=1) == after


# --- derived_seed ---------------------------------------------------------------------------------------


def test_derived_seed_is_pinned() -> None:
    """Pinned values: seeds feed the calibration cache and the cases both sides draw; change them deliberately."""
    assert derived_seed(0, "pointwise_shapes") == 503838343
    assert derived_seed(2024, "model_learns") == 746951671


def test_resolved_values_are_pinned() -> None:
    """numpy's default_rng stream is part of the contract too (a numpy change here would shift every case)."""
    cases = resolve_cases([{"args": [{"randint": [0, 100]}], "repeat": 3}], 0)
    assert [c["args"][0] for c in cases] == [85, 64, 51]


def test_derived_seed_range_and_type() -> None:
    for seed in range(50):
        value = derived_seed(seed, "check", "extra")
        assert type(value) is int
        assert 0 <= value < 2**31


def test_derived_seed_does_not_depend_on_call_order() -> None:
    ids = ["a", "b", "c", "model_learns", "shape_arithmetic"]
    forward = {i: derived_seed(3, i) for i in ids}
    backward = {i: derived_seed(3, i) for i in reversed(ids)}
    assert forward == backward


def test_derived_seed_separates_seeds_and_labels() -> None:
    values = {derived_seed(s, label) for s in range(10) for label in ("x", "y", "z")}
    assert len(values) == 30
    assert derived_seed(0, "a", "b") != derived_seed(0, "b", "a")


def test_describe_call() -> None:
    assert describe_call("PointwiseConv", {"in_channels": 3, "bias": False}) == "PointwiseConv(in_channels=3, bias=False)"
    assert describe_call("f", {}) == "f()"
