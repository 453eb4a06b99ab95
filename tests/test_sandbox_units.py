"""The sandbox's parts on their own, with real processes: control groups, bubblewrap, the watchdog's helpers.

No torch here: each test starts small real processes, so the file runs in seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from grader.sandbox import cgroups
from grader.sandbox.bwrap import availability, base_command
from grader.sandbox.supervise import disk_usage, largest_file

from .conftest import REPO

needs_cgroups = pytest.mark.skipif(cgroups.detect()[0] is None, reason=f"no writable cgroups here: {cgroups.detect()[1]}")
needs_bwrap = pytest.mark.skipif(availability()[0] is None, reason=availability()[1])


def _in_group(group: cgroups.RunGroup, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cgroups.join_command(group), *cmd], capture_output=True, text=True, timeout=timeout)


@needs_cgroups
def test_a_group_caps_processes_and_says_so() -> None:
    group, _ = cgroups.create(f"t-pids-{os.getpid()}", memory_mb=512, max_processes=20, cpus=1)
    assert group is not None
    try:
        code = "import os\nn=0\nfor _ in range(60):\n    try:\n        os.fork() or os._exit(__import__('time').sleep(2) or 0)\n        n+=1\n    except OSError:\n        pass\nprint(n)"
        done = _in_group(group, sys.executable, "-c", code)
        assert int(done.stdout.strip()) < 20
        assert "processes" in group.limits_hit()
    finally:
        group.kill()
        group.remove()


@needs_cgroups
def test_a_group_caps_memory_and_says_so() -> None:
    group, _ = cgroups.create(f"t-mem-{os.getpid()}", memory_mb=100, max_processes=64, cpus=1)
    assert group is not None
    try:
        done = _in_group(group, sys.executable, "-c", "x = [bytearray(10 * 2**20) for _ in range(100)]")
        assert done.returncode == -9  # the kernel's OOM killer, inside the group only
        assert "memory" in group.limits_hit()
        assert (group.peak_memory_mb() or 0) >= 90
    finally:
        group.kill()
        group.remove()


@needs_cgroups
def test_killing_a_group_reaches_daemons_that_left_the_session(tmp_path: Path) -> None:
    group, _ = cgroups.create(f"t-kill-{os.getpid()}", memory_mb=256, max_processes=64, cpus=1)
    assert group is not None
    daemonize = "(setsid sh -c 'sleep 1000 & sleep 1000' >/dev/null 2>&1 &) ; echo started"
    assert _in_group(group, "/bin/sh", "-c", daemonize).stdout.strip() == "started"
    time.sleep(0.3)
    assert len(group.pids()) >= 2  # the launcher exited; its double-forked daemons are still there
    group.kill()
    assert group.pids() == set()
    group.remove()
    assert not any(d.exists() for d in group.dirs.values())


def test_cgroup_files_are_parsed_for_both_versions(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    (v2 / "pids.events").write_text("max 3\n")
    assert cgroups.RunGroup("v2", {"memory": v2, "pids": v2}).limits_hit() == ["memory", "processes"]
    v1m, v1p = tmp_path / "mem", tmp_path / "pids"
    v1m.mkdir()
    v1p.mkdir()
    (v1m / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    (v1p / "pids.events").write_text("max 0\n")
    assert cgroups.RunGroup("v1", {"memory": v1m, "pids": v1p}).limits_hit() == []


def test_disk_usage_counts_bytes_and_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "big").write_bytes(os.urandom(3 * 2**20))
    for i in range(30):
        (tmp_path / f"f{i}").write_text("x")
    used, files = disk_usage([tmp_path])
    assert used >= 3 * 2**20 and files == 32
    assert disk_usage([tmp_path], max_files=10)[1] <= 11 + 1
    assert largest_file([tmp_path]) == 3 * 2**20


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder the sandbox's unprivileged uid can reach (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="dlgrader-test-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _inside(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    mode, _ = availability()
    cmd = [*base_command(mode or "own", ["--bind", str(folder), "/tmp", "--chdir", "/tmp"]), sys.executable, "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})


@needs_bwrap
def test_bwrap_shows_only_the_system_and_python(shared_tmp: Path) -> None:
    code = ("import os, sys\nprint(sorted(os.listdir('/')))\nprint(os.getuid())\n"
            "for p in ['/etc/shadow', '/root', '/home', " + repr(str(REPO / "grader")) + ", " + repr(str(REPO / "assignments")) + "]:\n"
            "    print(p, os.path.exists(p))\n")
    done = _inside(code, shared_tmp)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    top = set(eval(lines[0]))  # noqa: S307 - our own printed list
    assert top <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "dev", "tmp", "work"} | {
        Path(sys.prefix).resolve().parts[1]}
    if os.geteuid() == 0:
        assert lines[1] == "65534"
    assert len(lines) == 7 and all(line.endswith("False") for line in lines[2:]), lines


@needs_bwrap
def test_bwrap_has_no_network(shared_tmp: Path) -> None:
    code = ("import socket\nfor host, port in [('127.0.0.1', 22), ('1.1.1.1', 53)]:\n"
            "    s = socket.socket(); s.settimeout(3)\n"
            "    try:\n        s.connect((host, port)); print('CONNECTED', host)\n"
            "    except OSError as e:\n        print('BLOCKED', host, type(e).__name__)\n")
    done = _inside(code, shared_tmp)
    assert "CONNECTED" not in done.stdout and done.stdout.count("BLOCKED") == 2, done.stdout + done.stderr


@needs_bwrap
def test_bwrap_refuses_writes_outside_its_folders(shared_tmp: Path) -> None:
    code = ("import os, sys\nfor d in [sys.prefix, '/usr/lib', '/etc']:\n"
            "    try:\n        open(os.path.join(d, 'pwned'), 'w').write('x'); print('WROTE', d)\n"
            "    except OSError as e:\n        print('BLOCKED', d, type(e).__name__)\n"
            "open('/tmp/mine', 'w').write('ok')\n")
    done = _inside(code, shared_tmp)
    assert "WROTE" not in done.stdout and done.stdout.count("BLOCKED") == 3, done.stdout + done.stderr
    assert (shared_tmp / "mine").read_text() == "ok"
    assert not (Path(sys.prefix) / "pwned").exists()


def test_cgroup_v2_layout_is_detected_and_limits_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pure-v2 server (no such hierarchy here): the same logic against a folder laid out like cgroupfs."""
    mount = tmp_path / "cgroup"
    (mount / "user.slice").mkdir(parents=True)
    (mount / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (mount / "cgroup.subtree_control").write_text("")
    (mount / "user.slice" / "cgroup.controllers").write_text("cpu memory\n")  # pids not delegated here
    monkeypatch.setattr(cgroups, "_mounts", lambda: {"unified": mount})
    monkeypatch.setattr(cgroups, "_own_paths", lambda: {"unified": "/user.slice"})
    cgroups.detect.cache_clear()
    try:
        layout, note = cgroups.detect()
        assert layout is not None and layout.version == "v2" and note == "cgroup v2"
        assert layout.bases["unified"].parent == mount  # fell back from the grader's own group to the root
        assert (layout.bases["unified"] / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
        group, _ = cgroups.create("run-1", memory_mb=100, max_processes=50, cpus=2)
        assert group is not None and group.version == "v2"
        folder = layout.bases["unified"] / "run-1"
        assert (folder / "memory.max").read_text() == str(100 * 2**20)
        assert (folder / "pids.max").read_text() == "50"
        assert group.procs_files == [folder / "cgroup.procs"]
    finally:
        cgroups.detect.cache_clear()


def test_auto_falls_back_to_the_process_backend_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.sandbox import bwrap, get_sandbox

    monkeypatch.setattr(bwrap, "availability", lambda device="cpu": (None, "bubblewrap is not installed"))
    sandbox = get_sandbox("auto")
    assert sandbox.name == "process" and sandbox.fallback_reason == "bubblewrap is not installed"  # type: ignore[attr-defined]


def test_asking_for_bwrap_where_it_cannot_run_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.errors import SandboxError
    from grader.sandbox import bwrap, get_sandbox

    monkeypatch.setattr(bwrap, "availability", lambda device="cpu": (None, "user namespaces are disabled"))
    with pytest.raises(SandboxError, match="user namespaces are disabled; use --sandbox process") as caught:
        get_sandbox("bwrap")
    assert caught.value.exit_code == 2
    with pytest.raises(SandboxError, match="unknown sandbox backend 'docker'"):
        get_sandbox("docker")


def test_groups_of_graders_that_are_gone_are_swept(tmp_path: Path) -> None:
    gone, alive = tmp_path / "dlgrader-999999999", tmp_path / f"dlgrader-{os.getpid()}"
    (gone / "0001-alice-ab12").mkdir(parents=True)
    (alive / "0002-bob-cd34").mkdir(parents=True)
    cgroups._sweep(tmp_path)
    assert not gone.exists() and (alive / "0002-bob-cd34").is_dir()
