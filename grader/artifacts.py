"""Reading back what a sandboxed run wrote, treating every byte as untrusted.

JSON only through ``json``; arrays only through ``.npz`` whose members are checked *before* loading
(name, dtype, shape, size) and then loaded with ``allow_pickle=False``. Anything malformed becomes a
problem recorded for that check, never an exception out of the grader.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.checks.base import Observation
from grader.errors import ArtifactError

MAX_JSON_BYTES = 8 * 2**20
MAX_ARRAY_BYTES = 256 * 2**20
MAX_NPZ_BYTES = 512 * 2**20
MEMBER_NAME = re.compile(r"^[A-Za-z0-9_]{1,100}\.npy$")
ALLOWED_KINDS = set("biuf")


class ObservationRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["ok", "missing", "timeout", "error"]
    message: str = Field("", max_length=20000)
    data: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None = None


@dataclass
class CheckArtifact:
    record: ObservationRecord | None
    observation: Observation | None
    problem: str = ""


@dataclass
class RunArtifacts:
    runner: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, CheckArtifact] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)


def read_json(path: Path) -> Any:
    """A JSON file of bounded size, or :class:`ArtifactError`."""
    if path.is_symlink() or not path.is_file():
        raise ArtifactError(f"{path.name} is missing or not a regular file")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ArtifactError(f"{path.name} is larger than {MAX_JSON_BYTES // 2**20} MB")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path.name} is not valid JSON: {exc}") from None


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz``, each member vetted from its header before any data is read."""
    if path.is_symlink() or not path.is_file():
        raise ArtifactError(f"{path.name} is missing or not a regular file")
    if path.stat().st_size > MAX_NPZ_BYTES:
        raise ArtifactError(f"{path.name} is larger than {MAX_NPZ_BYTES // 2**20} MB")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not MEMBER_NAME.match(info.filename):
                    raise ArtifactError(f"{path.name}: member name {info.filename[:100]!r} is not allowed")
                if info.file_size > MAX_ARRAY_BYTES + 4096:
                    raise ArtifactError(f"{path.name}: member {info.filename} is too large")
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(member)  # the header only, no data yet
                    if dtype.kind not in ALLOWED_KINDS or dtype.hasobject:
                        raise ArtifactError(f"{path.name}: member {info.filename} has dtype {dtype}, not a plain number type")
                    claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                    if claimed > MAX_ARRAY_BYTES or claimed > info.file_size:
                        raise ArtifactError(f"{path.name}: member {info.filename} claims shape {shape} "
                                            f"({claimed} bytes) that its {info.file_size} stored bytes cannot hold")
                with archive.open(info) as member:
                    arrays[info.filename[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ArtifactError(f"{path.name} is not a valid .npz archive: {exc}") from None
    return arrays


def read_artifacts(out_dir: Path, check_ids: list[str]) -> RunArtifacts:
    """Everything the run left for the planned checks; unreadable parts become per-check problems."""
    result = RunArtifacts()
    for name, attr in (("runner.json", "runner"), ("environment.json", "environment")):
        try:
            value = read_json(out_dir / name)
            setattr(result, attr, value if isinstance(value, dict) else {})
        except ArtifactError:
            pass
    result.started = _started_checks(out_dir / "progress.jsonl")
    for check_id in check_ids:
        json_path = out_dir / f"{check_id}.json"
        if not json_path.exists():
            result.checks[check_id] = CheckArtifact(None, None)
            continue
        try:
            record = ObservationRecord.model_validate(read_json(json_path))
            npz = out_dir / f"{check_id}.npz"
            arrays = read_npz(npz) if npz.exists() else {}
            result.checks[check_id] = CheckArtifact(record, Observation(data=record.data, arrays=arrays))
        except (ArtifactError, ValidationError) as exc:
            result.checks[check_id] = CheckArtifact(None, None, problem=str(exc).splitlines()[0][:500])
    return result


def _started_checks(path: Path) -> list[str]:
    if not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        return []
    started = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
            if isinstance(event, dict) and event.get("event") == "start":
                started.append(str(event.get("check")))
        except json.JSONDecodeError:
            continue
    return started
