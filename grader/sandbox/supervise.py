"""Starting a sandboxed command and watching it: wall clock, disk, output; then killing its whole tree.

Shared by every backend: a backend decides *how* the runner is isolated (the command line and the
environment); this module decides *how long* it may run, *how much* it may write and print, and makes
sure that nothing it started is alive afterwards.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox import cgroups
from grader.sandbox.job import Job, Outcome

POLL_S = 0.2  # how often the watchdog looks at the clock and the disk
MAX_FILES = 20_000  # more files than this in a run's folders counts as filling the disk


class BoundedCapture:
    """Reads a pipe to its end, keeping only the first and last ``limit/2`` bytes."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0
        self.half = limit // 2
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: Any) -> None:
        while chunk := stream.read1(65536):
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


def disk_usage(folders: list[Path], max_files: int = MAX_FILES) -> tuple[int, int]:
    """Bytes allocated and entries counted under ``folders`` (stops counting past ``max_files``)."""
    total, count = 0, 0
    stack = [str(f) for f in folders]
    while stack and count <= max_files:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    count += 1
                    if count > max_files:  # enough to know the limit is hit; a huge folder is not walked
                        break
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return total, count


def largest_file(folders: list[Path]) -> int:
    largest = 0
    for folder in folders:
        for path in folder.rglob("*"):
            try:
                if path.is_file() and not path.is_symlink():
                    largest = max(largest, path.stat().st_size)
            except OSError:
                continue
    return largest


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


def new_marker() -> str:
    return secrets.token_hex(8)


@dataclass
class Launch:
    """What a backend hands to :func:`supervise`: the command, its environment and what it has set up."""

    cmd: list[str]
    env: dict[str, str]
    marker: str
    isolation: dict[str, Any]
    group: cgroups.RunGroup | None = None
    preexec: Any = None
    warnings: list[str] = field(default_factory=list)


def supervise(job: Job, launch: Launch) -> Outcome:
    """Run ``launch`` for ``job`` under the job's wall-clock, disk and output limits; never raises for the run's faults."""
    limits = job.plan.limits
    watched = [job.work_dir, job.out_dir, job.run_dir / "tmp"]
    disk_limit = int(limits["disk_mb"]) * 2**20
    start = time.monotonic()
    proc = subprocess.Popen(
        [*cgroups.join_command(launch.group), *launch.cmd], cwd=job.work_dir, env=launch.env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=launch.preexec,
    )
    out = BoundedCapture(proc.stdout, int(limits["output_kb"]) * 1024)
    err = BoundedCapture(proc.stderr, int(limits["output_kb"]) * 1024)
    stopped_by: str | None = None
    peak_disk = 0
    try:
        while proc.poll() is None:
            if time.monotonic() - start > float(limits["submission_s"]):
                stopped_by = "submission"
                break
            used, files = disk_usage(watched)
            peak_disk = max(peak_disk, used)
            if used > disk_limit or files > MAX_FILES:
                stopped_by = "disk"
                break
            try:
                proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                pass
    finally:
        kill_tree(proc, launch)
    duration = time.monotonic() - start
    for capture in (out, err):
        capture.thread.join(timeout=5)
    stdout, cut_out = out.text()
    stderr, cut_err = err.text()
    hit = [stopped_by] if stopped_by else []
    if launch.group is not None:
        hit += [name for name in launch.group.limits_hit() if name not in hit]
        peak_memory = launch.group.peak_memory_mb()
        launch.group.remove()
    else:
        peak_memory = None
    if largest_file(watched) >= int(limits["file_size_mb"]) * 2**20:
        hit.append("file_size")
    if cut_out or cut_err:
        hit.append("output")
    code = proc.returncode
    isolation = {**launch.isolation, "warnings": [*launch.isolation.get("warnings", []), *launch.warnings]}
    isolation["usage"] = {"peak_memory_mb": peak_memory, "disk_mb": round(peak_disk / 2**20, 1)}
    return Outcome(
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        duration_s=round(duration, 3), limit_hit=_ending_limit(stopped_by, hit, code), limits_hit=hit,
        stdout=stdout, stderr=stderr, output_truncated=cut_out or cut_err, isolation=isolation,
    )


def _ending_limit(stopped_by: str | None, hit: list[str], code: int | None) -> str | None:
    """The limit that ended the run: the watchdog's, else memory or processes when the run died with them."""
    if stopped_by:
        return stopped_by
    if code not in (0, None):
        for name in ("memory", "processes"):
            if name in hit:
                return name
    return None


def kill_tree(proc: subprocess.Popen[bytes], launch: Launch) -> None:
    """Kill everything the run started: its session, its control group, and any process with its marker."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if launch.group is not None:
        launch.group.kill()
    proc.wait()
    kill_marked(launch.marker)
