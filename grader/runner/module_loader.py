"""Import a ``.py`` submission in this (sandboxed) interpreter, under the per-cell limit."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

from grader.runner.timer import TimeLimitExceeded, time_limit


def load_module(path: Path, cell_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the module's namespace (whatever got defined) and a report of how loading went."""
    from grader.checks.torch_helpers import describe_exception

    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("submission", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    report: dict[str, Any] = {"status": "ok", "message": ""}
    started = time.monotonic()
    try:
        with time_limit(cell_s):
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        report = {"status": "error", "message": f"syntax error in {path.name}, line {exc.lineno}: {exc.msg}"
                  + (f"\n    {exc.text.rstrip()}" if exc.text else "")}
    except TimeLimitExceeded:
        report = {"status": "timeout", "message": f"importing {path.name} took longer than the per-cell time limit "
                  f"({cell_s:g} s); the checks ran on whatever was defined before that point. Put long work "
                  f"under `if __name__ == \"__main__\":`."}
    except SystemExit as exc:
        report = {"status": "exit", "message": f"{path.name} called sys.exit({exc.code!r}) while being imported; the "
                  f"checks ran on whatever was defined before that call."}
    except BaseException as exc:  # noqa: BLE001 - the student's crash is a result
        report = {"status": "error", "message": f"importing {path.name} failed: {describe_exception(exc)}"}
    report["duration_s"] = round(time.monotonic() - started, 3)
    return vars(module), report
