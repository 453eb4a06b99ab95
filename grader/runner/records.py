"""Writing what the runner observed: small JSON files and ``.npz`` arrays, atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, default=str, allow_nan=True))
    os.replace(tmp, path)


def append_event(out_dir: Path, **event: Any) -> None:
    """One line of progress; the trusted side uses it only to explain where a stopped run was."""
    with open(out_dir / "progress.jsonl", "a") as handle:
        handle.write(json.dumps(event) + "\n")


def write_observation(out_dir: Path, check_id: str, record: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    if arrays:
        tmp = out_dir / f"{check_id}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, out_dir / f"{check_id}.npz")
    write_json(out_dir / f"{check_id}.json", record)


def bound_writers() -> tuple[Callable[[Path, Any], None], Callable[[Path, str, dict[str, Any], dict[str, np.ndarray]], None]]:
    """``write_json`` and ``write_observation`` whose every primitive is bound now, before a submission runs.

    A submission that later replaces ``json.dumps``, ``builtins.open``, ``os.replace`` or this module's
    functions does not change what these two write (see ``prepare_checks`` for the limits of this).
    """
    dumps, replace, savez = json.dumps, os.replace, np.savez
    os_open, os_write, os_close = os.open, os.write, os.close
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC

    def write_json_bound(path: Path, data: Any) -> None:
        tmp = str(path) + ".tmp"
        fd = os_open(tmp, flags, 0o644)
        try:
            os_write(fd, dumps(data, default=str, allow_nan=True).encode())
        finally:
            os_close(fd)
        replace(tmp, str(path))

    def write_observation_bound(out_dir: Path, check_id: str, record: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        if arrays:
            tmp = str(out_dir / f"{check_id}.tmp.npz")
            savez(tmp, **arrays)
            replace(tmp, str(out_dir / f"{check_id}.npz"))
        write_json_bound(out_dir / f"{check_id}.json", record)

    return write_json_bound, write_observation_bound
