"""Finding submissions: a notebook, a module, or a directory holding one of them plus its files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError

ENTRY_SUFFIXES = (".ipynb", ".py")
PREFERRED_ENTRIES = ("submission.ipynb", "submission.py", "main.ipynb", "main.py")


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path  # the file, or the directory
    entry: Path  # the notebook or module to run (inside ``path`` for a directory)

    @property
    def kind(self) -> str:
        return "notebook" if self.entry.suffix == ".ipynb" else "module"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "submission"


def as_submission(path: Path) -> Submission | None:
    """The submission at ``path``, or None if it is neither a notebook, a module nor such a directory."""
    if path.is_file() and path.suffix in ENTRY_SUFFIXES:
        return Submission(_safe_name(path.stem), path, path)
    if path.is_dir():
        entries = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in ENTRY_SUFFIXES)
        preferred = [p for p in entries if p.name in PREFERRED_ENTRIES]
        chosen = preferred[:1] or (entries if len(entries) == 1 else [])
        if chosen:
            return Submission(_safe_name(path.name), path, chosen[0])
    return None


def discover(paths: list[Path]) -> list[Submission]:
    """Files are submissions; a folder is a folder *of* submissions (files or directories inside it)."""
    found: list[Submission] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if path.is_file():
            single = as_submission(path)
            if single is None:
                raise UsageError(f"{path}: not a submission (expected a .ipynb notebook or a .py module)")
            found.append(single)
            continue
        for child in sorted(path.iterdir()):
            if child.name.startswith((".", "_")):
                continue
            submission = as_submission(child)
            if submission is not None:
                found.append(submission)
    return _unique_names(found)


def _unique_names(found: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    unique = []
    for sub in found:
        count = seen.get(sub.student, 0)
        seen[sub.student] = count + 1
        unique.append(sub if count == 0 else Submission(f"{sub.student}-{count + 1}", sub.path, sub.entry))
    return unique
