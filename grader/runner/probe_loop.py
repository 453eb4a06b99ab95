"""Call each planned check's probe on the loaded submission and record what came out."""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

from grader.checks import get_kind
from grader.checks.base import MissingName, ProbeContext, StepFailed
from grader.runner.records import append_event, bound_writers
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


def limit_gpu_memory(device: str, fraction: float) -> None:
    """A CUDA run gets one GPU (``CUDA_VISIBLE_DEVICES``) and at most ``fraction`` of its memory."""
    if device != "cuda":
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(fraction, 0)


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


def prepare_checks(job: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """Bind everything the probes need *before* the submission is loaded; return ``run(namespace)``.

    The returned closure holds its own references to each kind's probe and to the writers, so a
    submission that replaces attributes of the grader's modules (``get_kind``, ``write_observation``,
    ``run_checks``...) after this point changes nothing that is recorded. It raises the bar, it is not a
    boundary: code in the same interpreter can still rewrite function objects, which is why every
    judgment happens outside the sandbox against data the run never sees (docs/security.md).
    """
    import torch

    from grader.checks.torch_helpers import describe_exception

    out_dir, seed, cpus = Path(job["out_dir"]), int(job["seed"]), int(job["cpus"])
    bound = []
    for check in job["checks"]:
        module = get_kind(check["kind"])
        bound.append((check["id"], module.probe, module.Params.model_validate(check["params"]),
                      module.Budget.model_validate(check["budget"])))
    write_env, write = bound_writers()
    event = append_event
    limit, seed_all, context = time_limit, seed_everything, ProbeContext
    set_threads, clock, stamp, child_seed = torch.set_num_threads, time.monotonic, time.time, derived_seed
    missing, failed, timed_out = MissingName, StepFailed, TimeLimitExceeded
    environment_info = environment(job["device"])

    def run(namespace: dict[str, Any]) -> None:
        set_threads(cpus)
        if not (out_dir / "environment.json").exists():  # a module's runner already wrote it before the import
            write_env(out_dir / "environment.json", environment_info)
        shared: dict[str, Any] = {}  # steps that several checks of this run reuse (checks.base.shared_step)
        for check_id, probe, params, budget in bound:
            ctx = context(check_id=check_id, namespace=namespace, interface=job["interface"], params=params,
                          budget=budget, seed=seed, device=job["device"], data_dir=Path(job["data_dir"]), shared=shared)
            event(out_dir, event="start", check=check_id, t=stamp())
            seed_all(child_seed(seed, check_id, "global"))
            started = clock()
            arrays: dict[str, Any] = {}
            try:
                with limit(budget.timeout_s):
                    observation = probe(ctx)
                record: dict[str, Any] = {"status": "ok", "data": observation.data}
                arrays = observation.arrays
            except missing as exc:
                record = {"status": "missing", "message": str(exc)}
            except failed as exc:
                record = {"status": "error", "message": f"this check builds on a step that failed earlier: {exc}"}
            except timed_out:
                record = {"status": "timeout", "message": f"this check's time limit ({budget.timeout_s:g} s) was hit"}
            except SystemExit as exc:
                record = {"status": "error", "message": f"your code called sys.exit({exc.code!r}) while the grader was calling it"}
            except BaseException as exc:  # noqa: BLE001 - any failure of student code is an observation
                record = {"status": "error", "message": describe_exception(exc)}
            record["duration_s"] = round(clock() - started, 3)
            write(out_dir, check_id, record, arrays)
            event(out_dir, event="end", check=check_id, t=stamp())

    return run


def run_checks(namespace: dict[str, Any], job: dict[str, Any]) -> None:
    """Run every check's probe; each writes ``<id>.json`` (+ ``<id>.npz``) even when it fails."""
    prepare_checks(job)(namespace)


def run_checks_from_file(namespace: dict[str, Any], job_file: str) -> None:
    """Run the checks of ``job_file`` now (prefer :func:`prepare_from_file` before the submission runs)."""
    prepare_from_file(job_file)(namespace)


def prepare_from_file(job_file: str) -> Callable[[dict[str, Any]], None]:
    """For the notebook's grader set-up cell: the bound probes, to be called by the grader's last cell."""
    run = prepare_checks(json.loads(Path(job_file).read_text()))

    def run_and_flush(namespace: dict[str, Any]) -> None:
        run(namespace)
        sys.stdout.flush()

    return run_and_flush

