"""Executors map many submissions to results; one failing never costs another its result."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_all(items: Iterable[T], work: Callable[[T], R], on_error: Callable[[T, BaseException], R],
            workers: int = 1, on_done: Callable[[R], None] | None = None) -> list[R]:
    """``work(item)`` for every item, in input order; an exception becomes ``on_error(item, exc)``."""
    items = list(items)

    def guarded(item: T) -> R:
        try:
            result = work(item)
        except Exception as exc:  # noqa: BLE001 - the batch must survive any single failure
            result = on_error(item, exc)
        if on_done is not None:
            on_done(result)
        return result

    if workers <= 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(guarded, item): index for index, item in enumerate(items)}
        results: list[R | None] = [None] * len(items)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
    return results  # type: ignore[return-value]
