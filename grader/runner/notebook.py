"""Execute a student's notebook in a real Jupyter kernel (nbclient), cell by cell, then probe it.

The kernel is started from a kernelspec written into the run's private directory and talks over
``ipc`` sockets, which keep working inside a network namespace whose loopback is down.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KERNEL_NAME = "dlgrader-python"
PROBE_SLACK_S = 60.0
CELL_OUTPUT_BYTES = 256 * 1024  # kept per cell; past it only a count and the last TAIL_CHARS of text
TAIL_CHARS = 1000


def bounded_client(*args: Any, **kwargs: Any) -> Any:
    """An nbclient NotebookClient that keeps a bounded amount of each cell's output.

    nbclient keeps every output message in memory; a cell printing a gigabyte would exhaust the runner.
    """
    from nbclient import NotebookClient

    class BoundedClient(NotebookClient):  # type: ignore[misc]
        def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
            content = msg.get("content", {})
            text = content.get("text", "") if msg.get("msg_type") == "stream" else ""
            size = len(text) if text else len(json.dumps(content.get("data", {}), default=str))
            kept = self.kept_bytes.get(cell_index, 0)
            if kept + size > CELL_OUTPUT_BYTES or cell_index in self.omitted:  # once cut, the rest is tail
                self.omitted[cell_index] = self.omitted.get(cell_index, 0) + size
                self.tails[cell_index] = (self.tails.get(cell_index, "") + text)[-TAIL_CHARS:]
                return None
            self.kept_bytes[cell_index] = kept + size
            return super().output(outs, msg, display_id, cell_index)

    client = BoundedClient(*args, **kwargs)
    client.kept_bytes, client.omitted, client.tails = {}, {}, {}
    return client


def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []) or [])


def _first_line(source: str) -> str:
    line = next((ln for ln in source.splitlines() if ln.strip()), "")
    return line[:80] + ("..." if len(line) > 80 else "")


def parameters_source(job: dict[str, Any]) -> str:
    """The injected parameters cell (papermill's convention: right after the cell tagged ``parameters``)."""
    values = {"DATA_ROOT": job["data_dir"], "DEVICE": job["device"], "SEED": int(job["seed"]), "GRADING": True}
    return "# Parameters injected by the grader\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())


def setup_source(job: dict[str, Any], job_file: str) -> str:
    return (
        "# Grader set-up: seeds and threads\n"
        "from grader.runner.probe_loop import seed_everything as __dlg_seed, limit_gpu_memory as __dlg_gpu\n"
        "from grader.runner.probe_loop import prepare_from_file as __dlg_prepare\n"
        f"__dlg_probes = __dlg_prepare({job_file!r})  # bound before any cell of the notebook runs\n"
        f"__dlg_seed({int(job['seed'])})\n"
        f"__dlg_gpu({job['device']!r}, {float(job.get('limits', {}).get('gpu_memory_fraction', 1.0))!r})\n"
        "import torch as __dlg_torch\n"
        f"__dlg_torch.set_num_threads({int(job['cpus'])})\n"
        "del __dlg_seed, __dlg_gpu, __dlg_prepare, __dlg_torch\n"
    )


def prepare(nb: Any, job: dict[str, Any], job_file: str) -> tuple[Any, list[dict[str, Any]]]:
    """The notebook to execute, and a record per original cell (skipped ones marked)."""
    records: list[dict[str, Any]] = []
    cells = [_injected(setup_source(job, job_file), "setup")]
    tagged = any("parameters" in _tags(c) for c in nb.cells)
    if not tagged:
        cells.append(_injected(parameters_source(job), "parameters"))
    for number, cell in enumerate(nb.cells, start=1):
        record = {"cell": number, "type": cell.cell_type, "first_line": _first_line(cell.source), "status": "not run"}
        records.append(record)
        if cell.cell_type != "code":
            record["status"] = "markdown"
            continue
        if "skip-grading" in _tags(cell):
            record["status"] = "skipped"
            continue
        cell.metadata["dlgrader_cell"] = number
        cells.append(cell)
        if "parameters" in _tags(cell):
            cells.append(_injected(parameters_source(job), "parameters"))
    probe = "__dlg_probes(globals())\n"
    cells.append(_injected(probe, "probes"))
    run_nb = nbformat.v4.new_notebook(metadata=nb.metadata)
    run_nb.cells = cells
    return run_nb, records


def _injected(source: str, role: str) -> Any:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["dlgrader_injected"] = role
    return cell


def write_kernelspec(tmp: Path) -> Path:
    kernels = tmp / "kernels"
    spec_dir = kernels / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "dl-grader", "language": "python"}))
    return kernels


def _error_of(cell: Any) -> dict[str, Any] | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
            return {"ename": output.get("ename", ""), "evalue": output.get("evalue", ""), "traceback": trace[-3000:]}
    return None


def _stream_text(cell: Any, limit: int = 2000) -> str:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return text if len(text) <= limit else text[: limit // 2] + "\n...\n" + text[-limit // 2 :]


async def execute(path: Path, job: dict[str, Any], job_file: str) -> dict[str, Any]:
    """Run the notebook; return ``{"status", "message", "cells": [...], "probes": {...}}``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import DeadKernelError

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable notebook is the student's to fix
        return {"status": "error", "message": f"{path.name} is not a readable Jupyter notebook: {exc}", "cells": []}
    run_nb, records = prepare(nb, job, job_file)
    by_number = {r["cell"]: r for r in records}
    tmp = Path(job["work_dir"]).parent / "tmp"
    ksm = KernelSpecManager(kernel_dirs=[str(write_kernelspec(tmp))])
    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm, transport="ipc", ip=str(tmp / "kernel"))
    cell_s, startup_s = float(job["limits"]["cell_s"]), float(job["limits"]["startup_s"])
    client = bounded_client(run_nb, km=km, timeout=cell_s, startup_timeout=int(startup_s), allow_errors=True,
                            interrupt_on_timeout=True, kernel_name=KERNEL_NAME, record_timing=False,
                            shutdown_kernel="immediate")  # SIGKILL: no atexit of the kernel after the probes
    report: dict[str, Any] = {"status": "ok", "message": "", "cells": records, "probes": {"status": "not run"}}
    probe_s = sum(float(c["budget"]["timeout_s"]) for c in job["checks"]) + PROBE_SLACK_S
    try:
        async with client.async_setup_kernel():
            for index, cell in enumerate(run_nb.cells):
                role = cell.metadata.get("dlgrader_injected")
                client.timeout = probe_s if role == "probes" else cell_s
                started = time.monotonic()
                try:
                    await client.async_execute_cell(cell, index)
                except DeadKernelError:
                    where = f"cell {cell.metadata.get('dlgrader_cell')}" if not role else f"the grader's {role} cell"
                    report.update(status="kernel_died", message=f"the Jupyter kernel died while running {where} "
                                  "(a crash in native code, os._exit(), or memory exhausted)")
                    _note(by_number, cell, role, report, "kernel died", time.monotonic() - started, None)
                    break
                elapsed = time.monotonic() - started
                error = _error_of(cell)
                timed_out = bool(error and error["ename"] == "KeyboardInterrupt" and elapsed >= client.timeout * 0.9)
                status = "timeout" if timed_out else ("error" if error else "ok")
                _note(by_number, cell, role, report, status, elapsed, error)
                if role is None and client.omitted.get(index):
                    record = by_number[cell.metadata["dlgrader_cell"]]
                    record["stdout"] += (f"\n... [{client.omitted[index]} bytes of output omitted: the output limit] ...\n"
                                         + client.tails.get(index, ""))
    except DeadKernelError:
        report.update(status="kernel_died", message="the Jupyter kernel died during start-up or shut-down")
    except Exception as exc:  # noqa: BLE001 - start-up failures (timeouts) become the report
        if report["status"] == "ok":
            report.update(status="startup_failed",
                          message=f"the Jupyter kernel could not be started within {startup_s:g} s: {type(exc).__name__}: {exc}")
    return report


def _note(by_number: dict[int, dict[str, Any]], cell: Any, role: str | None, report: dict[str, Any],
          status: str, elapsed: float, error: dict[str, Any] | None) -> None:
    entry = {"status": status, "duration_s": round(elapsed, 3)}
    if error:
        entry["error"] = error
    if role == "probes":
        report["probes"] = entry
    elif role:
        if status != "ok":
            report.setdefault("grader_cells", {})[role] = entry
    else:
        record = by_number[cell.metadata["dlgrader_cell"]]
        record.update(entry)
        record["stdout"] = _stream_text(cell)
