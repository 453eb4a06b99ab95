"""Reading back what a sandboxed run wrote, treating every byte as untrusted.

JSON only through ``json``; arrays only through ``.npz`` whose members are checked *before* loading
(name, dtype, shape, size) and then loaded with ``allow_pickle=False``. Anything malformed becomes a
problem recorded for that check, never an exception out of the grader.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.checks.base import Observation
from grader.errors import ArtifactError
from grader.results import CellResult, LoadResult

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
    finished: bool = False  # the runner reported reaching its end
    load: LoadResult | None = None  # how loading went, as the runner reported it (sanitised)
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
    except (ValueError, RecursionError) as exc:  # ValueError covers JSONDecodeError, Unicode and huge ints
        raise ArtifactError(f"{path.name} is not valid JSON: {str(exc)[:200]}") from None


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz``, each member vetted from its header before any data is read."""
    if path.is_symlink() or not path.is_file():
        raise ArtifactError(f"{path.name} is missing or not a regular file")
    if path.stat().st_size > MAX_NPZ_BYTES:
        raise ArtifactError(f"{path.name} is larger than {MAX_NPZ_BYTES // 2**20} MB")
    arrays: dict[str, np.ndarray] = {}
    total = 0
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
                    claimed = math.prod(int(d) for d in shape) * dtype.itemsize  # exact, never overflows
                    if claimed > MAX_ARRAY_BYTES or claimed > info.file_size:
                        raise ArtifactError(f"{path.name}: member {info.filename} claims shape {shape} "
                                            f"({claimed} bytes) that its {info.file_size} stored bytes cannot hold")
                    total += claimed
                    if total > MAX_NPZ_BYTES:
                        raise ArtifactError(f"{path.name} unpacks to more than {MAX_NPZ_BYTES // 2**20} MB")
                with archive.open(info) as member:
                    arrays[info.filename[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ArtifactError(f"{path.name} is not a valid .npz archive: {exc}") from None
    return arrays


def read_artifacts(out_dir: Path, check_ids: list[str]) -> RunArtifacts:
    """Everything the run left for the planned checks; unreadable parts become per-check problems."""
    result = RunArtifacts()
    runner = _json_dict(out_dir / "runner.json")
    result.finished = runner.get("finished") is True
    result.load = sanitize_load(runner.get("load"))
    result.environment = {str(k)[:100]: str(v)[:300] for k, v in _json_dict(out_dir / "environment.json").items()}
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
        except ArtifactError as exc:
            result.checks[check_id] = CheckArtifact(None, None, problem=str(exc)[:500])
        except ValidationError as exc:
            from grader.spec import validation_problems

            problem = f"{json_path.name}: " + "; ".join(validation_problems(exc))
            result.checks[check_id] = CheckArtifact(None, None, problem=problem[:500])
    return result


def _json_dict(path: Path) -> dict[str, Any]:
    try:
        value = read_json(path)
    except ArtifactError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int) -> str:
    return (value if isinstance(value, str) else "" if value is None else str(value))[:limit]


def _number(value: Any) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def sanitize_load(raw: Any) -> LoadResult | None:
    """The runner's account of loading the submission, with every field type-checked and bounded."""
    if not isinstance(raw, dict):
        return None
    cells = []
    for cell in raw.get("cells") if isinstance(raw.get("cells"), list) else []:
        if not isinstance(cell, dict):
            continue
        error = cell.get("error")
        cells.append(CellResult(
            cell=int(cell["cell"]) if isinstance(cell.get("cell"), int) else 0, type=_text(cell.get("type"), 20),
            first_line=_text(cell.get("first_line"), 200), status=_text(cell.get("status"), 20),
            duration_s=_number(cell.get("duration_s")), stdout=_text(cell.get("stdout"), 4000),
            error={"ename": _text(error.get("ename"), 200), "evalue": _text(error.get("evalue"), 2000),
                   "traceback": _text(error.get("traceback"), 5000)} if isinstance(error, dict) else None,
        ))
    return LoadResult(status=_text(raw.get("status", "unknown"), 50), message=_text(raw.get("message"), 5000),
                      duration_s=_number(raw.get("duration_s")), cells=cells[:5000])


def _started_checks(path: Path) -> list[str]:
    if not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        return []
    started = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
            if isinstance(event, dict) and event.get("event") == "start":
                started.append(str(event.get("check")))
        except (ValueError, RecursionError):
            continue
    return started
