"""Assignment specs: the typed schema of ``assignments/<id>/spec.yaml`` and its loader.

Validation happens in two passes: the generic schema below (unknown keys rejected), then each check's
``params``/``budgets``/``thresholds`` against the models its kind declares (``grader/checks/<kind>.py``).
Every problem is reported as ``file: key.path: what is wrong (fix)``.
"""

from __future__ import annotations

import hashlib
import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.errors import SpecError

PROFILE_NAMES = ("check", "grade")
ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InterfaceItem(Strict):
    """A name the submission must define."""

    kind: Literal["class", "function", "constant"]
    signature: str = ""
    doc: str = ""


class DatasetSpec(Strict):
    """A dataset the checks may use; ``source`` names a loader in ``grader/data``."""

    source: str
    options: dict[str, Any] = Field(default_factory=dict)


class Limits(Strict):
    """Layered limits for one sandboxed run (the message names whichever is hit)."""

    startup_s: float = Field(60, gt=0, description="starting the interpreter or Jupyter kernel")
    cell_s: float = Field(120, gt=0, description="one notebook cell, or importing a module")
    submission_s: float = Field(900, gt=0, description="the whole run of one submission")
    memory_mb: int = Field(8192, ge=1024, description="memory of the whole run (a cgroup; else an address-space limit)")
    max_processes: int = Field(4096, ge=16, description="processes and threads of the whole run")
    file_size_mb: int = Field(512, ge=1, description="largest file the run may write")
    disk_mb: int = Field(2048, ge=16, description="everything the run may write into its folders, /tmp included")
    output_kb: int = Field(256, ge=4, description="captured stdout/stderr kept (head and tail)")
    gpu_memory_fraction: float = Field(0.9, gt=0, le=1, description="share of its one GPU's memory a CUDA run may use")


class Profile(Strict):
    """How a submission is run: ``check`` (CPU, minutes, public checks) or ``grade`` (all checks)."""

    description: str = ""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    checks: Literal["public", "all"] = "public"
    seed: int = 0
    cpus: int = Field(0, ge=0, description="threads per run; 0 means all cores of the machine")
    limits: Limits = Field(default_factory=Limits)


class CheckSpec(Strict):
    """One graded check. ``params``/``budgets``/``thresholds`` are validated by its kind."""

    id: str = Field(pattern=ID_PATTERN)
    kind: str
    title: str
    points: float = Field(gt=0)
    visibility: Literal["public", "hidden"] = "public"
    hint: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    budgets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("budgets", "thresholds")
    @classmethod
    def _known_profiles(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if name not in PROFILE_NAMES:
                raise ValueError(f"unknown profile {name!r}; use one of {', '.join(PROFILE_NAMES)}")
        return value


class Panel(Strict):
    """A figure in every report built from several checks' details (``grader/panels.py``)."""

    title: str
    kind: Literal["line_chart", "table"]
    source: str = Field(description="key in each check's details: a list of numbers, or a dict for a table row")
    checks: dict[str, str] = Field(min_length=1, description="check id -> its label (series or row name)")
    columns: dict[str, str] = Field(default_factory=dict, description="table: detail key -> column header")
    x_label: str = "epoch"
    y_label: str = "loss"


class AssignmentSpec(Strict):
    """The whole ``spec.yaml``."""

    id: str = Field(pattern=ID_PATTERN)
    title: str
    seeds: str = Field(description="what the course's exercise sheet asked, in prose")
    reference: str = Field(description="path of the reference solution, relative to the repo root")
    interface: dict[str, InterfaceItem]
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    profiles: dict[str, Profile]
    checks: list[CheckSpec] = Field(min_length=1)
    report: list[Panel] = Field(default_factory=list, description="figures across checks in every report")

    @field_validator("profiles")
    @classmethod
    def _both_profiles(cls, value: dict[str, Profile]) -> dict[str, Profile]:
        missing = [p for p in PROFILE_NAMES if p not in value]
        unknown = [p for p in value if p not in PROFILE_NAMES]
        if missing:
            raise ValueError(f"missing profile(s) {', '.join(missing)}; define both 'check' and 'grade'")
        if unknown:
            raise ValueError(f"unknown profile(s) {', '.join(unknown)}; only 'check' and 'grade' exist")
        return value

    @field_validator("checks")
    @classmethod
    def _unique_check_ids(cls, value: list[CheckSpec]) -> list[CheckSpec]:
        seen: set[str] = set()
        for check in value:
            if check.id in seen:
                raise ValueError(f"duplicate check id {check.id!r}; give every check its own id")
            seen.add(check.id)
        return value


class LoadedSpec(BaseModel):
    """A validated spec plus where it came from (the path and its bytes' hash feed fingerprints)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    spec: AssignmentSpec
    path: Path
    root: Path
    sha256: str

    @property
    def reference_path(self) -> Path:
        return (self.root / self.spec.reference).resolve()


def _format_loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    parts: list[str] = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(p for p in parts if p) or "(top level)"


def validation_problems(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> list[str]:
    """Turn a pydantic error into ``key: what is wrong (fix)`` lines."""
    problems = []
    for err in exc.errors():
        key = _format_loc(tuple(err["loc"]), prefix)
        if err["type"] == "extra_forbidden":
            allowed = f"; allowed keys here: {', '.join(_allowed_keys(model, err['loc']))}" if model else ""
            problems.append(f"{key}: unknown key (remove it or fix its spelling{allowed})")
        elif err["type"] == "missing":
            problems.append(f"{key}: required key is missing (add it)")
        elif err["type"] == "value_error":  # our own validators: the message already says what to do
            problems.append(f"{key}: {err['msg'].removeprefix('Value error, ')}")
        else:
            problems.append(f"{key}: {err['msg']} (got {reprlib.repr(err.get('input'))})")
    return problems


def _allowed_keys(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Walk ``loc`` through nested models to list the keys allowed where an unknown one appeared."""
    current: Any = model
    for item in loc[:-1]:
        if isinstance(item, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(item)
        if field is None:
            continue
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), current)
    return sorted(getattr(current, "model_fields", {}).keys())


def load_spec(path: str | Path, root: str | Path | None = None) -> LoadedSpec:
    """Read, parse and validate a spec file; raise :class:`SpecError` naming every problem."""
    path = Path(path)
    shown = str(path)
    if not path.is_file():
        raise SpecError(shown, ["file not found (pass the path of an assignments/<id>/spec.yaml)"])
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(shown, ["not UTF-8 text (save the file as UTF-8)"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(shown, [f"{where}: YAML syntax error: {problem} (check indentation and quoting)"]) from None
    if not isinstance(raw, dict):
        raise SpecError(shown, ["(top level): expected a mapping of keys such as id, title, checks"])
    # Top-level keys starting with "x-" are the author's own (YAML anchors shared by several checks), as in
    # docker compose's extension fields; nothing reads them.
    raw = {key: value for key, value in raw.items() if not str(key).startswith("x-")}
    try:
        spec = AssignmentSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(shown, validation_problems(exc, model=AssignmentSpec)) from None

    from grader.checks import validate_check  # late import: kinds import torch-free helpers only

    problems: list[str] = []
    for index, check in enumerate(spec.checks):
        problems += validate_check(check, f"checks[{index}]", set(spec.interface), set(spec.datasets))
    known = {check.id for check in spec.checks}
    for index, panel in enumerate(spec.report):
        problems += [f"report[{index}].checks: {cid!r} is not a check id of this spec (use one of the ids under 'checks')"
                     for cid in panel.checks if cid not in known]
    from grader.data import validate_dataset

    for name, dataset in spec.datasets.items():
        problems += validate_dataset(dataset, f"datasets.{name}")
    root_dir = Path(root) if root else _repo_root_for(path)
    if not (root_dir / spec.reference).is_file():
        problems.append(f"reference: file {spec.reference!r} not found under {root_dir} (fix the path)")
    if problems:
        raise SpecError(shown, problems)
    return LoadedSpec(spec=spec, path=path.resolve(), root=root_dir.resolve(), sha256=hashlib.sha256(raw_bytes).hexdigest())


def _repo_root_for(spec_path: Path) -> Path:
    """``assignments/<id>/spec.yaml`` lives two levels below the repo root."""
    resolved = spec_path.resolve()
    if resolved.parent.parent.name == "assignments":
        return resolved.parent.parent.parent
    return resolved.parent
