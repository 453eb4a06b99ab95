"""The ``bwrap`` backend ("isolation: bwrap"): the runner inside a bubblewrap container, as an unprivileged user.

What the run sees is built from nothing, one mount at a time:
- read-only: the system (``/usr`` and its ``/bin``, ``/lib`` links), a few files of ``/etc``, the Python
  environment, the batch's copy of the grader's runner code (``<batch>/lib``), the prepared data
  (inputs and training labels only) and its own job file;
- writable: its own work dir (a copy of the submission), its output dir and its temporary dir (``$TMPDIR``);
- fresh: ``/proc`` of its own PID namespace, a minimal ``/dev``, size-limited ``/tmp`` and ``/dev/shm``.
Nothing else of the host exists inside: not the reference solutions, the specs, other submissions, the
results folder, the calibration cache or any home directory. Every namespace is new (user, PID, network,
IPC, UTS, cgroup); nested user namespaces are refused where the kernel allows; ``--die-with-parent`` ties
the run to the grader. When the grader runs as root it first drops to uid/gid 65534 (``setpriv``), so the
run is an ordinary unprivileged user on the host as well.

Limits are those of the process backend: a control group per run, prlimit for file size, the watchdog of
grader/sandbox/supervise.py for wall clock, disk and output.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.sandbox.job import Job, Outcome
from grader.sandbox.process import launch_prefix, resource_limits, run_group, scrubbed_env
from grader.sandbox.supervise import Launch, new_marker, supervise

SANDBOX_UID = 65534  # "nobody" on Debian and most distributions
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "nsswitch.conf", "fonts")
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
PROBE_TIMEOUT_S = 30


@functools.lru_cache(maxsize=1)
def system_binds() -> tuple[str, ...]:
    """Read-only mounts of the system: ``/usr``, the top-level links into it, and selected ``/etc`` files."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in SYSTEM_DIRS:
        path = Path(top)
        if path.is_symlink():  # merged /usr (Debian 12): recreate the link, do not expose a second path
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in ETC_FILES:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return tuple(args)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def python_binds() -> list[str]:
    """The interpreter's environment (a venv and the installation it was made from), read-only."""
    real_prefix = str(Path(sys.prefix).resolve())
    roots = {real_prefix, str(Path(sys.base_prefix).resolve()), str(Path(sys.executable).resolve().parent.parent)}
    keep = sorted(r for r in roots if not _under(r, "/usr") and not any(_under(r, o) for o in roots if o != r))
    args = [part for root in keep for part in ("--ro-bind", root, root)]
    if sys.prefix != real_prefix:  # the venv reached through a link: recreate the link inside
        args += ["--symlink", real_prefix, sys.prefix]
    return args


def gpu_binds() -> list[str]:
    """The NVIDIA device nodes and what the driver reads, for a CUDA run."""
    args: list[str] = []
    for node in sorted(Path("/dev").glob("nvidia*")):
        if node.is_char_device() or node.is_dir():
            args += ["--dev-bind", str(node), str(node)]
    if Path("/sys").is_dir():
        args += ["--ro-bind", "/sys", "/sys"]
    return args


def identity_args(mode: str) -> tuple[list[str], list[str]]:
    """The command prefix and bwrap options that give the run its uid for ``mode`` (see :func:`availability`)."""
    if mode == "drop":  # a real unprivileged user on the host too; bwrap then makes an unprivileged user namespace
        return ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups", "--"], []
    if mode == "mapped":  # root whose interpreter nobody else can read: uid 65534 inside, no capabilities
        return [], ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    return [], []  # "own": an unprivileged grader's own uid


def base_command(mode: str, extra: list[str] | None = None) -> list[str]:
    prefix, ids = identity_args(mode)
    return [*prefix, "bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--hostname", "sandbox", *ids, *system_binds(), *python_binds(),
            "--proc", "/proc", "--dev", "/dev", *(extra or []),
            "--remount-ro", "/"]  # the skeleton bwrap built the mounts in: nothing can be created beside them


@functools.lru_cache(maxsize=4)
def availability(device: str = "cpu") -> tuple[str | None, str]:
    """The uid mode bwrap works in on this host ("drop", "mapped", "own"), or None and why it does not work."""
    if shutil.which("bwrap") is None:
        return None, "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    modes = ["drop", "mapped"] if os.geteuid() == 0 else ["own"]
    if "drop" in modes and shutil.which("setpriv") is None:
        modes.remove("drop")
    # The run's uid must be able to read the environment, torch included (a venv made with umask 077 is not).
    code = "import sys, numpy, importlib.util; assert importlib.util.find_spec('torch'), 'torch not readable'"
    if device == "cuda":  # the driver must initialise inside as well
        code += "; import ctypes; sys.exit(ctypes.CDLL('libcuda.so.1').cuInit(0))"
    errors = []
    with tempfile.TemporaryDirectory(prefix="dlgrader-probe-") as tmp:
        os.chmod(tmp, 0o755)
        for mode in modes:
            extra = gpu_binds() if device == "cuda" else []
            cmd = [*base_command(mode, [*extra, "--bind", tmp, "/tmp", "--chdir", "/tmp"]), sys.executable, "-c", code]
            try:
                probe = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, text=True, env=_probe_env())
            except (OSError, subprocess.TimeoutExpired) as exc:
                errors.append(f"{mode}: {exc}")
                continue
            if probe.returncode == 0:
                return mode, "bwrap" if mode != "mapped" else "bwrap (uid 65534 is root outside the sandbox)"
            errors.append(f"{mode}: {(probe.stderr or probe.stdout).strip()[-300:]}")
    return None, "bwrap does not work on this host: " + "; ".join(errors)


def _probe_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1"}


def _prepare_files(job: Job, mode: str) -> tuple[Path, Path]:
    """A minimal /etc/passwd and /etc/group for the run, and its writable folders handed to the run's uid."""
    etc = job.run_dir / "etc"
    etc.mkdir(exist_ok=True)
    uid = os.getuid() if mode == "own" else SANDBOX_UID
    (etc / "passwd").write_text(f"student:x:{uid}:{uid}:student:{job.work_dir}:/usr/sbin/nologin\n")
    (etc / "group").write_text(f"student:x:{uid}:\n")
    if mode == "drop":
        for folder in (job.work_dir, job.out_dir, job.run_dir / "tmp"):
            for path in [folder, *folder.rglob("*")]:
                os.lchown(path, SANDBOX_UID, SANDBOX_UID)
    # bwrap, already running as the run's uid, must reach the bind sources: traverse, never list.
    for folder in (job.run_dir, job.run_dir.parent, job.run_dir.parent.parent):
        folder.chmod(folder.stat().st_mode | 0o111)
    return etc / "passwd", etc / "group"


class BwrapSandbox:
    """``run(job) -> Outcome`` inside bubblewrap; see the module docstring for what is visible."""

    name = "bwrap"
    label = "bwrap"

    def __init__(self, mode: str | None = None, note: str = "bwrap") -> None:
        if mode is None:
            mode, note = availability()
            if mode is None:
                from grader.errors import SandboxError

                raise SandboxError(note)
        self.mode, self.note = mode, note

    def run(self, job: Job) -> Outcome:
        limits = job.plan.limits
        warnings: list[str] = []
        if self.mode == "mapped":
            warnings.append("the run's uid 65534 is root outside its namespace (the interpreter is not readable by "
                            "an unprivileged user): files are hidden by the sandbox's mounts, not by permissions")
        marker = new_marker()
        group, group_note = run_group(job, marker)
        rlimits = resource_limits(job, group, warnings)
        launch_cmd, preexec = launch_prefix(rlimits, warnings)
        passwd, group_file = _prepare_files(job, self.mode)
        lib = job.run_dir.parent.parent / "lib"
        tmp = job.run_dir / "tmp"
        shm = min(int(limits["disk_mb"]), int(limits["memory_mb"])) * 2**20
        binds = [
            # /tmp and /dev/shm are size-capped tmpfs (memory, inside the run's memory limit); the run's own
            # folders are mounted afterwards, so they stay visible where the workspace lives under /tmp.
            "--size", str(shm), "--tmpfs", "/dev/shm", "--size", str(shm), "--tmpfs", "/tmp",
            "--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group_file), "/etc/group",
            "--ro-bind", str(lib), str(lib), "--ro-bind", str(job.data_dir), str(job.data_dir),
            "--ro-bind", str(job.job_file), str(job.job_file),
            "--bind", str(job.work_dir), str(job.work_dir), "--bind", str(job.out_dir), str(job.out_dir),
            "--bind", str(tmp), str(tmp),
            *(gpu_binds() if job.plan.device == "cuda" else []),
            "--chdir", str(job.work_dir),
        ]
        cmd = [*launch_cmd, *base_command(self.mode, binds), sys.executable, "-m", "grader.runner", str(job.job_file)]
        isolation = {"backend": self.name, "label": self.label, "namespaces": "user, PID, network, IPC, UTS, cgroup",
                     "uid": {"drop": f"{SANDBOX_UID} (dropped from root)", "mapped": f"{SANDBOX_UID} (mapped to root)",
                             "own": f"{os.getuid()} (the grader's own)"}[self.mode],
                     "cgroup": group_note,
                     "limits": rlimits + ([f"{k}={v}" for k, v in group.limits.items()] if group else []),
                     "threads": job.plan.cpus, "warnings": warnings}
        return supervise(job, Launch(cmd=cmd, env=scrubbed_env(job, marker), marker=marker, isolation=isolation,
                                     group=group, preexec=preexec))
