"""Run ``../shared/datasets/prepare.py DEST`` with this interpreter, whatever its tarfile version.

    python scripts/prepare_shared_data.py DEST [--shared ../shared/datasets]

prepare.py calls ``TarFile.extractall(..., filter="data")``, which Python 3.11 only has from 3.11.4;
Debian's 3.11.2 (the interpreter our venv is built from) lacks it. There the same safety rule (members
must be regular files or folders that stay inside DEST) is applied here before extracting.
Prints DEST; exits 3 when the shared folder is absent, so callers can skip instead of fail.
"""

from __future__ import annotations

import argparse
import inspect
import os
import runpy
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _add_data_filter() -> None:
    original = tarfile.TarFile.extractall
    if "filter" in inspect.signature(original).parameters:
        return

    def extractall(self: tarfile.TarFile, path: str = ".", members=None, *, numeric_owner: bool = False,  # noqa: ANN001
                   filter: str | None = None) -> None:  # noqa: A002 - the name prepare.py passes
        root = Path(path).resolve()
        chosen = list(members) if members is not None else self.getmembers()
        for member in chosen:
            target = (root / member.name).resolve()
            if not (member.isfile() or member.isdir()) or root not in (target, *target.parents):
                raise tarfile.TarError(f"refusing archive member {member.name!r} (not a plain file inside {root})")
        original(self, path, chosen, numeric_owner=numeric_owner)

    tarfile.TarFile.extractall = extractall  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "datasets")
    args = parser.parse_args()
    script = args.shared / "prepare.py"
    if not script.is_file():
        print(f"no offline datasets: {script} does not exist", file=sys.stderr)
        return 3
    _add_data_filter()
    args.dest.mkdir(parents=True, exist_ok=True)
    sys.argv = [str(script), str(args.dest)]
    old_stdout = sys.stdout
    sys.stdout = sys.stderr  # prepare.py's progress lines; stdout carries only DEST
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            return int(exc.code) if isinstance(exc.code, int) else 1
    finally:
        sys.stdout = old_stdout
    print(os.fspath(args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
