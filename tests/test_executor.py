"""run_all: every item gets a result, in input order, whatever happens to the others."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from grader.executor import run_all


def square(n: int) -> int:
    return n * n


def as_error(item: int, exc: BaseException) -> str:
    return f"error {item}: {type(exc).__name__}: {exc}"


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_order_kept(workers: int) -> None:
    assert run_all(range(10), square, as_error, workers=workers) == [n * n for n in range(10)]


def test_order_kept_when_later_items_finish_first() -> None:
    def slow_first(n: int) -> int:
        time.sleep(0.05 if n == 0 else 0.0)
        return n

    finished: list[int] = []
    assert run_all([0, 1, 2, 3], slow_first, as_error, workers=2, on_done=finished.append) == [0, 1, 2, 3]
    assert finished[-1] == 0  # it really did finish last
    assert sorted(finished) == [0, 1, 2, 3]


@pytest.mark.parametrize("workers", [1, 2])
def test_exception_becomes_on_error_result_and_others_run(workers: int) -> None:
    ran: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            ran.append(n)
        if n == 2:
            raise ValueError("boom")
        return n

    results = run_all(range(5), work, as_error, workers=workers)
    assert results == [0, 1, "error 2: ValueError: boom", 3, 4]
    assert sorted(ran) == [0, 1, 2, 3, 4]


def test_every_item_failing() -> None:
    def fail(n: int) -> int:
        raise RuntimeError(str(n))

    assert run_all([1, 2], fail, lambda item, exc: (item, str(exc)), workers=2) == [(1, "1"), (2, "2")]


@pytest.mark.parametrize("workers", [1, 2])
def test_on_done_called_once_per_item_with_its_result(workers: int) -> None:
    seen: list[object] = []
    lock = threading.Lock()

    def on_done(result: object) -> None:
        with lock:
            seen.append(result)

    def work(n: int) -> int:
        if n % 3 == 0:
            raise KeyError(n)
        return n

    results = run_all(range(7), work, as_error, workers=workers, on_done=on_done)
    assert len(seen) == 7
    assert sorted(map(str, seen)) == sorted(map(str, results))
    assert "error 3: KeyError: 3" in seen


def test_workers_really_run_in_parallel() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(n: int) -> int:
        barrier.wait()  # would time out (BrokenBarrierError) if the two items ran one after the other
        return n

    assert run_all([1, 2], meet, as_error, workers=2) == [1, 2]


def test_empty_input() -> None:
    calls: list[object] = []
    assert run_all([], square, as_error, workers=1, on_done=calls.append) == []
    assert run_all([], square, as_error, workers=3, on_done=calls.append) == []
    assert calls == []


def test_accepts_any_iterable() -> None:
    assert run_all((n for n in [3, 1]), square, as_error, workers=2) == [9, 1]


def test_keyboard_interrupt_is_not_swallowed() -> None:
    def interrupt(n: int) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_all([1], interrupt, as_error)


def test_a_run_name_used_twice_gets_its_own_folder(tmp_path: Path) -> None:
    from grader.plan import build_plan
    from grader.spec import load_spec
    from grader.submissions import Submission
    from grader.workspace import Workspace

    from .conftest import REPO

    plan = build_plan(load_spec(REPO / "assignments" / "conv1x1" / "spec.yaml"), "check")
    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    workspace = Workspace(tmp_path)
    try:
        first = workspace.new_job(Submission("m", module, module), plan, "reference")
        second = workspace.new_job(Submission("m", module, module), plan, "reference")
        assert first.run_dir != second.run_dir and second.run_id == "reference-2" and second.out_dir.is_dir()
    finally:
        workspace.cleanup()
