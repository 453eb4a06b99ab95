"""Sandbox backends. A backend is anything with ``name`` and ``run(job) -> Outcome``.

Backends are chosen by name and imported lazily:
- ``bwrap``: bubblewrap, an unprivileged user in fresh namespaces that sees only what it needs (grader/sandbox/bwrap.py);
- ``process``: a plain subprocess with namespaces and limits where the host allows, "weaker" (grader/sandbox/process.py);
- ``auto`` (the default): ``bwrap`` where it works on this host, else ``process`` with the reason in every result.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from grader.errors import SandboxError
from grader.sandbox.job import Job, Outcome

BACKENDS: dict[str, str] = {"bwrap": "grader.sandbox.bwrap:BwrapSandbox", "process": "grader.sandbox.process:ProcessSandbox"}
CHOICES = ("auto", *BACKENDS)


class Sandbox(Protocol):
    name: str

    def run(self, job: Job) -> Outcome:
        """Run the job's submission under the job's limits; never raises for student faults."""


def get_sandbox(name: str = "auto", device: str = "cpu") -> Sandbox:
    """Instantiate the backend called ``name`` (``auto``: the strongest that works here for ``device``)."""
    if name == "auto":
        from grader.sandbox.bwrap import BwrapSandbox, availability
        from grader.sandbox.process import ProcessSandbox

        mode, note = availability(device)
        return BwrapSandbox(mode, note) if mode else ProcessSandbox(fallback_reason=note)
    if name not in BACKENDS:
        raise SandboxError(f"unknown sandbox backend {name!r}; available: {', '.join(CHOICES)}")
    if name == "bwrap":
        from grader.sandbox.bwrap import BwrapSandbox, availability

        mode, note = availability(device)
        if mode is None:
            raise SandboxError(f"--sandbox bwrap was asked for, but {note}; use --sandbox process (weaker) or auto")
        return BwrapSandbox(mode, note)
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


__all__ = ["CHOICES", "Job", "Outcome", "Sandbox", "get_sandbox"]
