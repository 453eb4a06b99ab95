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
    problem: str = ""  # set when there is nothing runnable: graded as such, never silently dropped

    @property
    def kind(self) -> str:
        if self.problem:
            return "unknown"
        return "notebook" if self.entry.suffix == ".ipynb" else "module"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "submission"


def as_submission(path: Path) -> Submission | None:
    """The submission at ``path``, or None if it is neither a notebook, a module nor such a directory."""
    if path.is_file() and path.suffix in ENTRY_SUFFIXES:
        return Submission(_safe_name(path.stem), path, path)
    if path.is_dir():
        entries = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in ENTRY_SUFFIXES
                         and not p.name.startswith("."))
        preferred = sorted((p for p in entries if p.name in PREFERRED_ENTRIES), key=lambda p: PREFERRED_ENTRIES.index(p.name))
        chosen = preferred[:1] or (entries if len(entries) == 1 else [])
        if chosen:
            return Submission(_safe_name(path.name), path, chosen[0])
        if entries:
            names = ", ".join(p.name for p in entries)
            return Submission(_safe_name(path.name), path, path, problem=(
                f"The folder holds several notebooks/modules ({names}) and none is called "
                f"{' or '.join(PREFERRED_ENTRIES[:2])}: rename the one to grade."))
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
    """``alice.py`` and ``alice.ipynb`` become ``alice`` and ``alice-2`` (never two reports in one folder)."""
    taken = {sub.student for sub in found}
    used: set[str] = set()
    unique = []
    for sub in found:
        name, n = sub.student, 1
        while name in used or (n > 1 and name in taken):
            n += 1
            name = f"{sub.student}-{n}"
        used.add(name)
        unique.append(sub if name == sub.student else Submission(name, sub.path, sub.entry, sub.problem))
    return unique
