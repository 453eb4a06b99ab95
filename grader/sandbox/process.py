"""The ``process`` backend ("isolation: process, weaker"): a fresh interpreter per submission, limited and,
where possible, namespaced. It sees the host's files with the grader's own rights; ``bwrap`` does not.

Layers, outermost first:
- a control group per run where the host allows (grader/sandbox/cgroups.py): memory, processes and
  threads, CPU quota, and a kill that reaches every process of the run;
- ``unshare --net --pid --fork --kill-child --mount-proc`` (as root, or with ``--user --map-root-user``
  where unprivileged user namespaces work): no network, and killing the runner kills every process it
  started, daemons included. Without namespaces the run still happens, with a recorded warning, and
  stragglers are found by an environment marker;
- ``prlimit``: file size, no core dumps, and an address-space backstop (loose: the CUDA build of torch
  needs ~3.5 GB just to import; it is the memory limit itself only where there is no control group);
- a scrubbed environment, a private working and temporary directory, ``OMP_NUM_THREADS`` set;
- the watchdog of grader/sandbox/supervise.py (wall clock, disk, output) and a parent-death signal so
  that a grader that is itself killed takes its runs with it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from grader.sandbox import cgroups
from grader.sandbox.job import Job, Outcome
from grader.sandbox.supervise import BoundedCapture, Launch, marked_pids, new_marker, supervise

__all__ = ["BoundedCapture", "ProcessSandbox", "marked_pids", "resource_limits", "scrubbed_env"]

NAMESPACE_FLAGS = ["--net", "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc"]


@functools.lru_cache(maxsize=1)
def namespace_prefix() -> tuple[tuple[str, ...], str]:
    """The ``unshare`` command that works on this host (empty if none) and a note on what it gives."""
    for extra in ([], ["--user", "--map-root-user"]):
        cmd = ["unshare", *extra, *NAMESPACE_FLAGS]
        try:
            probe = subprocess.run([*cmd, "true"], capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return tuple(cmd), "network and PID namespaces" + (" (user namespace)" if extra else "")
    return (), "no namespaces available: network NOT isolated, process tree tracked by marker"


def scrubbed_env(job: Job, marker: str) -> dict[str, str]:
    """The only environment the run sees: no secrets, no proxies, no user's paths."""
    plan = job.plan
    tmp = job.run_dir / "tmp"
    threads = str(plan.cpus)
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(job.work_dir),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": str(plan.seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(job.run_dir.parent.parent / "lib"),  # <batch>/lib, see grader/workspace.py
        "MPLBACKEND": "Agg",
        "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
        "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(tmp / "ipython"),
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] if plan.device == "cuda" else "",
        "DATA_ROOT": str(job.data_dir),
        "DEVICE": plan.device,
        "SEED": str(plan.seed),
        "GRADING": "True",
        "DLGRADER_RUN": marker,
    }


def _set_rlimits(rlimits: list[str]) -> None:
    """Apply ``--name=value`` limits (prlimit's syntax) with the resource module."""
    import resource

    names = {"--nproc": "RLIMIT_NPROC", "--fsize": "RLIMIT_FSIZE", "--core": "RLIMIT_CORE", "--as": "RLIMIT_AS"}
    for item in rlimits:
        flag, value = item.split("=")
        limit = getattr(resource, names[flag], None)
        if limit is not None:
            try:
                resource.setrlimit(limit, (int(value), int(value)))
            except (ValueError, OSError):
                pass


def resource_limits(job: Job, group: cgroups.RunGroup | None, warnings: list[str]) -> list[str]:
    """prlimit options for a run: the control group, when there is one, carries memory and processes."""
    limits = job.plan.limits
    memory = int(limits["memory_mb"]) * 2**20
    rlimits = [f"--fsize={int(limits['file_size_mb']) * 2**20}", "--core=0"]
    if group is None:
        rlimits.append(f"--nproc={limits['max_processes']}")
        warnings.append("no control group: memory is an address-space limit and processes are counted per user")
    if job.plan.device != "cpu":  # CUDA initialisation breaks under RLIMIT_AS
        warnings.append("no address-space limit on a CUDA run (CUDA cannot initialise under one)")
    else:  # with a group, only a loose backstop well above the real limit (threads reserve address space)
        rlimits.append(f"--as={memory if group is None else max(4 * memory, 16 * 2**30)}")
    return rlimits


def launch_prefix(rlimits: list[str], warnings: list[str]) -> tuple[list[str], Any]:
    """``prlimit`` (or the same limits applied before exec) and a parent-death signal."""
    prefix: list[str] = []
    preexec = None
    if shutil.which("setpriv"):  # if the grader dies, the kernel SIGKILLs the run (unshare then the rest)
        prefix = ["setpriv", "--pdeathsig", "SIGKILL"]
    else:
        warnings.append("setpriv unavailable: runs may outlive a grader that is killed")
    if shutil.which("prlimit"):
        prefix = ["prlimit", *rlimits, "--", *prefix]
    else:  # e.g. macOS: the same limits through the resource module, in the child before exec
        preexec = functools.partial(_set_rlimits, rlimits)
    return prefix, preexec


def run_group(job: Job, marker: str) -> tuple[cgroups.RunGroup | None, str]:
    limits = job.plan.limits
    return cgroups.create(f"{job.run_id}-{marker}", int(limits["memory_mb"]), int(limits["max_processes"]), job.plan.cpus)


class ProcessSandbox:
    """``run(job) -> Outcome``, one fresh process tree per submission."""

    name = "process"
    label = "process, weaker"

    def __init__(self, fallback_reason: str = "") -> None:
        self.fallback_reason = fallback_reason  # why ``auto`` could not use bwrap, shown in every result

    def run(self, job: Job) -> Outcome:
        prefix, ns_note = namespace_prefix()
        warnings = [] if prefix else ["network and PID namespaces unavailable: the run was not cut off from the network"]
        if self.fallback_reason:
            warnings.insert(0, f"bwrap unavailable, so the weaker process backend was used: {self.fallback_reason}")
        marker = new_marker()
        group, group_note = run_group(job, marker)
        rlimits = resource_limits(job, group, warnings)
        launch_cmd, preexec = launch_prefix(rlimits, warnings)
        cmd = [*launch_cmd, *prefix, sys.executable, "-m", "grader.runner", str(job.job_file)]
        isolation = {"backend": self.name, "label": self.label, "namespaces": ns_note, "cgroup": group_note,
                     "limits": rlimits + ([f"{k}={v}" for k, v in group.limits.items()] if group else []),
                     "threads": job.plan.cpus, "warnings": warnings}
        return supervise(job, Launch(cmd=cmd, env=scrubbed_env(job, marker), marker=marker, isolation=isolation,
                                     group=group, preexec=preexec))
