"""Per-run control groups: a memory limit, a process/thread limit, a CPU quota and a reliable kill.

Both layouts in use are supported and detected from ``/proc/self/mountinfo`` and ``/proc/self/cgroup``:

- cgroup **v1** (one hierarchy per controller, e.g. the grading VMs): ``memory.limit_in_bytes``,
  ``pids.max``, ``cpu.cfs_quota_us``; a run's group is made under the grader's own group in each
  hierarchy. Where a v2 tree is mounted beside them ("hybrid"), the run joins it too for ``cgroup.kill``.
- cgroup **v2** (a typical server): ``memory.max``, ``pids.max``, ``cpu.max``, ``cgroup.kill``. Controllers
  can only be given to children of a group without processes, so runs are made under the grader's own
  group when it may delegate, else under ``<v2 root>/dlgrader`` (root only).

Creating groups needs write access (root, or a delegated subtree). Without it :func:`create` returns
None with the reason, and the backends fall back to rlimits, saying so in every result.
"""

from __future__ import annotations

import atexit
import functools
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

V1_CONTROLLERS = ("memory", "pids", "cpu")


@dataclass(frozen=True)
class Layout:
    version: str  # "v1" (maybe hybrid) or "v2"
    bases: dict[str, Path]  # controller (or "unified") -> the folder runs are created in


@dataclass
class RunGroup:
    """One run's groups. ``procs_files`` are what the launcher writes its PID into before it execs."""

    version: str
    dirs: dict[str, Path]
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in dict.fromkeys(self.dirs.values())]  # v2: one folder for all

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found.update(int(p) for p in procs.read_text().split())
            except (OSError, ValueError):
                continue
        return found

    def kill(self, timeout_s: float = 10.0) -> None:
        """SIGKILL every process in the group, however it detached itself, and wait until none is left."""
        unified = self.dirs.get("unified")
        if unified is not None and (unified / "cgroup.kill").exists():
            _write(unified / "cgroup.kill", "1")
        deadline = time.monotonic() + timeout_s
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:  # a fork racing this loop is caught on the next pass; pids.max bounds the race
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    continue
            time.sleep(0.02)

    def limits_hit(self) -> list[str]:
        """Which of this group's limits were reached during the run: "memory", "processes"."""
        hit = []
        memory = self.dirs.get("memory")
        if memory is not None:
            events = _counters(memory / ("memory.events" if self.version == "v2" else "memory.oom_control"))
            if events.get("oom_kill", 0) > 0 or events.get("oom", 0) > 0:
                hit.append("memory")
        pids = self.dirs.get("pids")
        if pids is not None and _counters(pids / "pids.events").get("max", 0) > 0:
            hit.append("processes")
        return hit

    def peak_memory_mb(self) -> float | None:
        memory = self.dirs.get("memory")
        if memory is None:
            return None
        value = _int(memory / ("memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes"))
        return round(value / 2**20, 1) if value else None

    def remove(self) -> None:
        for folder in self.dirs.values():
            for _ in range(50):  # rmdir fails while the last killed processes are still being reaped
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _counters(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    counters = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            counters[parts[0]] = int(parts[1])
    return counters


def _mounts() -> dict[str, Path]:
    """Mount point of each v1 controller ("memory", ...) and of the v2 tree ("unified")."""
    mounts: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return mounts
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        if tail[0] == "cgroup2":
            mounts.setdefault("unified", Path(fields[4]))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in V1_CONTROLLERS:
                    mounts.setdefault(option, Path(fields[4]))
    return mounts


def _own_paths() -> dict[str, str]:
    """The grader's own group in each hierarchy, from ``/proc/self/cgroup``."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if number == "0" and not controllers:
            paths["unified"] = path
        for name in controllers.split(","):
            if name in V1_CONTROLLERS:
                paths[name] = path
    return paths


def _v2_base(mount: Path, own: str) -> Path | None:
    """A v2 folder whose children get the memory, pids and cpu controllers, or None."""
    wanted = ["memory", "pids", "cpu"]
    for parent in (mount / own.lstrip("/"), mount):
        _sweep(parent)
        try:
            available = (parent / "cgroup.controllers").read_text().split()
            if not {"memory", "pids"} <= set(available):
                continue
            base = parent / f"dlgrader-{os.getpid()}"
            # The grader's group may not give controllers away while it holds processes, the root may.
            _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted if c in available))
            base.mkdir(exist_ok=True)
            _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted if c in available))
            return base
        except OSError:
            continue
    return None


def _sweep(parent: Path) -> None:
    """Remove the groups of graders that are gone (killed before they could clean up), killing what is left in them."""
    try:
        entries = [e for e in parent.iterdir() if e.is_dir() and e.name.startswith("dlgrader-")]
    except OSError:
        return
    for base in entries:
        owner = base.name.removeprefix("dlgrader-")
        if not owner.isdigit() or Path("/proc", owner).exists():
            continue
        for run in [d for d in base.iterdir() if d.is_dir()]:
            stale = RunGroup("v1", {"run": run})
            stale.kill(timeout_s=2)
            stale.remove()
        try:
            base.rmdir()
        except OSError:
            continue


def _remove_bases(bases: list[Path]) -> None:
    """At the grader's exit: its (by then empty) folders go too."""
    for base in bases:
        for run in [d for d in base.iterdir() if d.is_dir()] if base.is_dir() else []:
            RunGroup("v1", {"run": run}).remove()
        try:
            base.rmdir()
        except OSError:
            continue


@functools.lru_cache(maxsize=1)
def detect() -> tuple[Layout | None, str]:
    """The layout runs can be made in on this host, or None and why not."""
    mounts, own = _mounts(), _own_paths()
    if all(c in mounts for c in ("memory", "pids")):  # v1 controllers (hybrid or legacy)
        bases: dict[str, Path] = {}
        for name in ("memory", "pids", "cpu", "unified"):
            if name not in mounts:
                continue
            base = mounts[name] / own.get(name, "/").lstrip("/") / f"dlgrader-{os.getpid()}"
            _sweep(base.parent)
            try:
                base.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                if name in ("memory", "pids"):
                    return None, f"cgroup v1 not writable ({exc.strerror}: {base.parent})"
                continue
            bases[name] = base
        atexit.register(_remove_bases, list(bases.values()))
        return Layout("v1", bases), "cgroup v1" + (" (+ v2 tree for cgroup.kill)" if "unified" in bases else "")
    if "unified" in mounts:
        base = _v2_base(mounts["unified"], own.get("unified", "/"))
        if base is None:
            return None, "cgroup v2 without delegated memory/pids controllers (run as root or in a delegated scope)"
        atexit.register(_remove_bases, [base])
        return Layout("v2", {"unified": base}), "cgroup v2"
    return None, "no cgroup hierarchy mounted"


def create(run_id: str, memory_mb: int, max_processes: int, cpus: int) -> tuple[RunGroup | None, str]:
    """A fresh group for one run with its limits set, or None and the reason (limits then fall back to rlimits)."""
    layout, note = detect()
    if layout is None:
        return None, note
    memory, quota = memory_mb * 2**20, cpus * 100_000
    try:
        if layout.version == "v2":
            folder = layout.bases["unified"] / run_id
            folder.mkdir()
            group = RunGroup("v2", {"unified": folder, "memory": folder, "pids": folder})
            _write(folder / "memory.max", str(memory))
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", "0")
            _write(folder / "pids.max", str(max_processes))
            if (folder / "cpu.max").exists():
                _write(folder / "cpu.max", f"{quota} 100000")
        else:
            dirs = {}
            for name, base in layout.bases.items():
                (base / run_id).mkdir()
                dirs[name] = base / run_id
            group = RunGroup("v1", dirs)
            _write(dirs["memory"] / "memory.limit_in_bytes", str(memory))
            if (dirs["memory"] / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
                _write(dirs["memory"] / "memory.memsw.limit_in_bytes", str(memory))
            _write(dirs["pids"] / "pids.max", str(max_processes))
            if "cpu" in dirs:
                _write(dirs["cpu"] / "cpu.cfs_period_us", "100000")
                _write(dirs["cpu"] / "cpu.cfs_quota_us", str(quota))
    except OSError as exc:
        return None, f"{note}: could not create a group ({exc})"
    group.limits = {"memory_bytes": memory, "pids_max": max_processes, "cpu_quota_cores": cpus}
    return group, note


def join_command(group: RunGroup | None) -> list[str]:
    """A prefix that moves the launcher into ``group`` before it execs the rest (so nothing starts outside)."""
    if group is None:
        return []
    script = 'for f in "$@"; do case "$f" in --) shift; break;; esac; echo $$ > "$f" || exit 97; shift; done; exec "$@"'
    return ["/bin/sh", "-c", script, "sh", *map(str, group.procs_files), "--"]
