"""``python -m grader.runner JOB_FILE``: the sandboxed process. Writes ``out/runner.json`` and observations."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from grader.runner.records import bound_writers, write_json


def main(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text())
    out_dir = Path(job["out_dir"])
    entry = Path(job["entry"])
    started = time.monotonic()
    write, _ = bound_writers()  # a local, bound now: a submission patching modules later cannot reach it
    state: dict[str, object] = {"kind": job["kind"], "finished": False}
    write_json(out_dir / "runner.json", state)
    if job["kind"] == "module":
        from grader.runner.module_loader import load_module
        from grader.runner.probe_loop import environment, limit_gpu_memory, prepare_checks, seed_everything

        write_json(out_dir / "environment.json", environment(job["device"]))  # even if the import kills us
        seed_everything(int(job["seed"]))
        limit_gpu_memory(job["device"], float(job["limits"].get("gpu_memory_fraction", 1.0)))
        run_checks = prepare_checks(job)  # bound before the submission can patch anything
        namespace, load = load_module(entry, float(job["limits"]["cell_s"]))
        state["load"] = load
        write(out_dir / "runner.json", state)
        run_checks(namespace)
    else:
        from grader.runner.notebook import execute

        state["load"] = asyncio.run(execute(entry, job, job_file))
    state["finished"] = True
    state["duration_s"] = round(time.monotonic() - started, 3)
    write(out_dir / "runner.json", state)
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave now: atexit handlers and threads the submission registered do not get to run after the
    # observations are written (the sandbox then kills whatever else the run started).
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
