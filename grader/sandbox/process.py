"""The ``process`` backend: a fresh interpreter per submission, limited and, where possible, namespaced.

Layers, outermost first:
- ``unshare --net --pid --fork --kill-child --mount-proc`` (as root, or with ``--user --map-root-user``
  where unprivileged user namespaces work): no network, and killing the runner kills every process it
  started, daemons included. Without namespaces the run still happens, with a recorded warning, and
  stragglers are found by an environment marker.
- ``prlimit``: address space (a loose backstop: the CUDA build of torch needs ~3.5 GB just to import),
  process count, file size, no core dumps.
- A scrubbed environment, a private working and temporary directory, ``OMP_NUM_THREADS`` set.
- A wall-clock watchdog that SIGKILLs the whole process group at the per-submission limit, and a
  parent-death signal so that a grader that is itself killed takes its runs with it.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from grader.sandbox.job import Job, Outcome

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


class BoundedCapture:
    """Reads a pipe to its end, keeping only the first and last ``limit/2`` bytes."""

    def __init__(self, stream: object, limit: int) -> None:
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0
        self.half = limit // 2
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: object) -> None:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            self.total += len(chunk)
            room = self.half - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail.append(chunk)
                self.tail_size += len(chunk)
                while self.tail_size - len(self.tail[0]) >= self.half:
                    self.tail_size -= len(self.tail.popleft())

    def text(self) -> tuple[str, bool]:
        tail = b"".join(self.tail)[-self.half :] if self.tail else b""
        truncated = self.total > len(self.head) + len(tail)
        middle = f"\n... [{self.total - len(self.head) - len(tail)} bytes of output omitted] ...\n".encode() if truncated else b""
        return (bytes(self.head) + middle + tail).decode("utf-8", "replace"), truncated


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
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0") if plan.device == "cuda" else "",
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


def marked_pids(marker: str | None = None) -> list[int]:
    """Processes whose environment carries this run's marker (any run's, when ``marker`` is None)."""
    needle = f"DLGRADER_RUN={marker}".encode() if marker else b"DLGRADER_RUN="
    found: list[int] = []
    if not Path("/proc").is_dir():
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v == needle if marker else v.startswith(needle) for v in variables):
            found.append(int(entry.name))
    return found


def kill_marked(marker: str) -> int:
    """SIGKILL every process of run ``marker`` still alive (escaped daemons); return how many."""
    killed = 0
    for pid in marked_pids(marker):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            continue
    return killed


class ProcessSandbox:
    """``run(job) -> Outcome``, one fresh process tree per submission."""

    name = "process"

    def run(self, job: Job) -> Outcome:
        limits = job.plan.limits
        prefix, ns_note = namespace_prefix()
        warnings = [] if prefix else ["network and PID namespaces unavailable: the run was not cut off from the network"]
        rlimits = [f"--nproc={limits['max_processes']}", f"--fsize={limits['file_size_mb'] * 2**20}", "--core=0"]
        if job.plan.device == "cpu":  # CUDA initialisation breaks under RLIMIT_AS
            rlimits.append(f"--as={limits['memory_mb'] * 2**20}")
        else:
            warnings.append("no address-space limit on a CUDA run (CUDA cannot initialise under one)")
        marker = secrets.token_hex(8)
        cmd = [*prefix, sys.executable, "-m", "grader.runner", str(job.job_file)]
        preexec = None
        if shutil.which("prlimit"):
            cmd = ["prlimit", *rlimits, "--", *cmd]
        else:  # e.g. macOS: the same limits through the resource module, in the child before exec
            preexec = functools.partial(_set_rlimits, rlimits)
        if shutil.which("setpriv"):  # if the grader dies, the kernel SIGKILLs the run (unshare then the rest)
            cmd = ["setpriv", "--pdeathsig", "SIGKILL", *cmd]
        else:
            warnings.append("setpriv unavailable: runs may outlive a grader that is killed")
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=job.work_dir, env=scrubbed_env(job, marker), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=preexec,
        )
        out = BoundedCapture(proc.stdout, limits["output_kb"] * 1024)
        err = BoundedCapture(proc.stderr, limits["output_kb"] * 1024)
        limit_hit = None
        try:
            proc.wait(timeout=limits["submission_s"])
        except subprocess.TimeoutExpired:
            limit_hit = "submission"
        finally:
            self._kill_tree(proc, marker)
        duration = time.monotonic() - start
        for capture in (out, err):
            capture.thread.join(timeout=5)
        stdout, cut_out = out.text()
        stderr, cut_err = err.text()
        code = proc.returncode
        return Outcome(
            exit_code=code if code is not None and code >= 0 else None,
            signal=-code if code is not None and code < 0 else None,
            duration_s=round(duration, 3), limit_hit=limit_hit, stdout=stdout, stderr=stderr,
            output_truncated=cut_out or cut_err,
            isolation={"backend": self.name, "label": "process, weaker", "namespaces": ns_note,
                       "limits": rlimits, "threads": job.plan.cpus, "warnings": warnings},
        )

    @staticmethod
    def _kill_tree(proc: subprocess.Popen[bytes], marker: str) -> None:
        """Kill the process group (unshare's --kill-child then empties the PID namespace), then stragglers."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        kill_marked(marker)
