"""Sandbox backends. A backend is anything with ``name`` and ``run(job) -> Outcome``.

Backends are chosen by name and imported lazily; ``process`` (a fresh interpreter in its own PID and
network namespaces where the host allows, with resource limits) is the one that exists today.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from grader.errors import SandboxError
from grader.sandbox.job import Job, Outcome

BACKENDS: dict[str, str] = {"process": "grader.sandbox.process:ProcessSandbox"}


class Sandbox(Protocol):
    name: str

    def run(self, job: Job) -> Outcome:
        """Run the job's submission under the job's limits; never raises for student faults."""


def get_sandbox(name: str = "process") -> Sandbox:
    """Instantiate the backend called ``name``."""
    if name not in BACKENDS:
        raise SandboxError(f"unknown sandbox backend {name!r}; available: {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


__all__ = ["Job", "Outcome", "Sandbox", "get_sandbox"]
