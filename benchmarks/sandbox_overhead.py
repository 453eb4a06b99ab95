"""Benchmark: the wall time the ``bwrap`` backend adds per submission over the ``process`` backend.

    .venv/bin/python benchmarks/sandbox_overhead.py [--runs 20]

Each run is a whole sandboxed submission as a batch makes it: a fresh job in a workspace (copy of the
submission, job file), the backend's set-up (control group, for bwrap: passwd/group files, ownership,
the mount list), the runner (a fresh interpreter that imports torch, loads a tiny module and writes
its records), the watchdog, the kill of the tree and the group's removal. The plan has no checks, so
what differs between the two backends is the isolation alone. Runs alternate between the backends
so that drift of the machine affects both alike; the figure is the difference of the medians.
Results go to ``benchmarks/results/sandbox_overhead.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from grader.plan import build_plan  # noqa: E402
from grader.sandbox import get_sandbox  # noqa: E402
from grader.spec import load_spec  # noqa: E402
from grader.submissions import as_submission  # noqa: E402
from grader.workspace import Workspace  # noqa: E402

TINY = "import torch\n\n\ndef pointwise_output_shape(input_shape, out_channels):\n    return tuple(input_shape)\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    loaded = load_spec(REPO / "assignments" / "conv1x1" / "spec.yaml", root=REPO)
    plan = dataclasses.replace(build_plan(loaded, "check", "cpu"), checks=[])
    backends = {name: get_sandbox(name) for name in ("process", "bwrap")}
    times: dict[str, list[float]] = {name: [] for name in backends}
    with tempfile.TemporaryDirectory() as tmp:
        module = Path(tmp) / "tiny.py"
        module.write_text(TINY)
        submission = as_submission(module)
        assert submission is not None
        workspace = Workspace()
        try:
            for i in range(args.runs):
                order = list(backends) if i % 2 == 0 else list(reversed(backends))
                for name in order:
                    started = time.perf_counter()
                    job = workspace.new_job(submission, plan, f"{name}-{i}")
                    outcome = backends[name].run(job)
                    times[name].append(time.perf_counter() - started)
                    if outcome.exit_code != 0:
                        raise SystemExit(f"{name} run {i} failed: {outcome.stderr[-2000:]}")
                print(f"run {i + 1}/{args.runs}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in backends), flush=True)
        finally:
            workspace.cleanup()
    medians = {name: statistics.median(values) for name, values in times.items()}
    overhead = medians["bwrap"] - medians["process"]
    figures = {
        "runs_per_backend": args.runs,
        "median_s": {k: round(v, 3) for k, v in medians.items()},
        "min_s": {k: round(min(v), 3) for k, v in times.items()},
        "max_s": {k: round(max(v), 3) for k, v in times.items()},
        "bwrap_overhead_median_s": round(overhead, 3),
        "target_s": 0.5,
        "within_target": overhead < 0.5,
        "isolation": {name: backends[name].name for name in backends},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "euid": os.geteuid()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sandbox_overhead.json").write_text(json.dumps(figures, indent=1) + "\n")
    (RESULTS / "sandbox_overhead.md").write_text(
        "# Sandbox overhead per submission\n\n"
        f"Measured {figures['measured_at']} on {figures['machine']['platform']}, {os.cpu_count()} cores, "
        f"{args.runs} runs per backend, alternating (benchmarks/sandbox_overhead.py).\n\n"
        "| backend | median | min | max |\n|---|---|---|---|\n"
        + "".join(f"| {n} | {medians[n]:.3f} s | {min(times[n]):.3f} s | {max(times[n]):.3f} s |\n" for n in backends)
        + (f"\n**bwrap adds {overhead:.3f} s per submission** (difference of the medians; target < 0.5 s).\n"
           if overhead > 0 else
           f"\n**bwrap adds no measurable time per submission**: its median was {-overhead:.3f} s *below* the process "
           "backend's (target: less than 0.5 s added). Both start a fresh interpreter that imports torch; the "
           "namespaces, mounts and control group cost less than the run-to-run noise.\n")
    )
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
