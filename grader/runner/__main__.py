"""``python -m grader.runner JOB_FILE``: the sandboxed process. Writes ``out/runner.json`` and observations."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from grader.runner.records import write_json


def main(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text())
    out_dir = Path(job["out_dir"])
    entry = Path(job["entry"])
    started = time.monotonic()
    state: dict[str, object] = {"kind": job["kind"], "finished": False}
    write_json(out_dir / "runner.json", state)
    if job["kind"] == "module":
        from grader.runner.module_loader import load_module
        from grader.runner.probe_loop import environment, run_checks, seed_everything

        write_json(out_dir / "environment.json", environment(job["device"]))  # even if the import kills us
        seed_everything(int(job["seed"]))
        namespace, load = load_module(entry, float(job["limits"]["cell_s"]))
        state["load"] = load
        write_json(out_dir / "runner.json", state)
        run_checks(namespace, job)
    else:
        from grader.runner.notebook import execute

        state["load"] = asyncio.run(execute(entry, job, job_file))
    state["finished"] = True
    state["duration_s"] = round(time.monotonic() - started, 3)
    write_json(out_dir / "runner.json", state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
