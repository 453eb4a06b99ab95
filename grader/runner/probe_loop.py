"""Call each planned check's probe on the loaded submission and record what came out."""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

from grader.checks import get_kind
from grader.checks.base import MissingName, ProbeContext, StepFailed
from grader.runner.records import append_event, write_json, write_observation
from grader.runner.timer import TimeLimitExceeded, time_limit
from grader.sampling import derived_seed


def seed_everything(seed: int) -> None:
    """Python, numpy, torch and CUDA generators, all from one number."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def environment(device: str) -> dict[str, Any]:
    import numpy as np
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "cuda": torch.version.cuda, "device": device, "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def run_checks(namespace: dict[str, Any], job: dict[str, Any]) -> None:
    """Run every check's probe; each writes ``<id>.json`` (+ ``<id>.npz``) even when it fails."""
    import torch

    out_dir = Path(job["out_dir"])
    torch.set_num_threads(int(job["cpus"]))
    if not (out_dir / "environment.json").exists():  # a module's runner already wrote it before the import
        write_json(out_dir / "environment.json", environment(job["device"]))
    shared: dict[str, Any] = {}  # steps that several checks of this run reuse (checks.base.shared_step)
    for check in job["checks"]:
        module = get_kind(check["kind"])
        ctx = ProbeContext(
            check_id=check["id"], namespace=namespace, interface=job["interface"],
            params=module.Params.model_validate(check["params"]), budget=module.Budget.model_validate(check["budget"]),
            seed=int(job["seed"]), device=job["device"], data_dir=Path(job["data_dir"]), shared=shared,
        )
        append_event(out_dir, event="start", check=check["id"], t=time.time())
        seed_everything(derived_seed(int(job["seed"]), check["id"], "global"))
        started = time.monotonic()
        arrays: dict[str, Any] = {}
        try:
            with time_limit(ctx.budget.timeout_s):
                observation = module.probe(ctx)
            record: dict[str, Any] = {"status": "ok", "data": observation.data}
            arrays = observation.arrays
        except MissingName as exc:
            record = {"status": "missing", "message": str(exc)}
        except StepFailed as exc:
            record = {"status": "error", "message": f"this check builds on a step that failed earlier: {exc}"}
        except TimeLimitExceeded:
            record = {"status": "timeout", "message": f"this check's time limit ({ctx.budget.timeout_s:g} s) was hit"}
        except SystemExit as exc:
            record = {"status": "error", "message": f"your code called sys.exit({exc.code!r}) while the grader was calling it"}
        except BaseException as exc:  # noqa: BLE001 - any failure of student code is an observation
            from grader.checks.torch_helpers import describe_exception

            record = {"status": "error", "message": describe_exception(exc)}
        record["duration_s"] = round(time.monotonic() - started, 3)
        write_observation(out_dir, check["id"], record, arrays)
        append_event(out_dir, event="end", check=check["id"], t=time.time())


def run_checks_from_file(namespace: dict[str, Any], job_file: str) -> None:
    """Entry point for the cell the notebook runner appends to the student's notebook."""
    job = json.loads(Path(job_file).read_text())
    run_checks(namespace, job)
    sys.stdout.flush()

