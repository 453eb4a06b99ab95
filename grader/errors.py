"""The grader's one exception tree.

Student faults (crashes, timeouts, wrong answers) are *results*, never exceptions. These exceptions
are for problems the person running the grader must fix::

    GraderError                    base; carries ``exit_code`` for the CLI
    ├── UsageError                 bad command-line input, missing paths            (exit 2)
    ├── SpecError                  malformed or inconsistent spec.yaml              (exit 2)
    ├── DataError                  a dataset is missing, incomplete or corrupt      (exit 2)
    ├── CalibrationError           the reference solution failed its own checks     (exit 1)
    ├── SandboxError               a sandbox backend cannot run at all              (exit 2)
    └── ArtifactError              an observation written by a run is unreadable    (exit 1)
                                   (caught per check and turned into an ``error`` result)
"""

from __future__ import annotations


class GraderError(Exception):
    """Base of every error the grader raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(GraderError):
    """The command line asked for something that cannot be done."""

    exit_code = 2


class SpecError(GraderError):
    """A spec file is malformed; the message names the file, the key and the fix."""

    exit_code = 2

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {path}: {p}" for p in problems)
        super().__init__(f"invalid assignment spec {path}:\n{lines}")


class DataError(GraderError):
    """A dataset under the data root is missing or unreadable; the message names the path and the layout."""

    exit_code = 2


class CalibrationError(GraderError):
    """The reference solution did not pass its own checks, so no thresholds can be derived."""


class SandboxError(GraderError):
    """A sandbox backend is unavailable or misconfigured (a usage error: pick another one)."""

    exit_code = 2


class ArtifactError(GraderError):
    """An observation file written inside the sandbox is malformed, oversized or unsafe."""
