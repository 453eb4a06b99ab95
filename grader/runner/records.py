"""Writing what the runner observed: small JSON files and ``.npz`` arrays, atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
