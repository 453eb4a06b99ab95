"""``grader data prepare``: make a dataset available under the data root, downloading with torchvision if needed.

Where there is no network the error says which files to put where; nothing half-downloaded is left
looking complete (torchvision verifies the release md5s of what it downloads).
"""

from __future__ import annotations

import socket
from pathlib import Path

from grader.data.sources import SOURCES, Decoded, decode, locate
from grader.errors import DataError

DOWNLOAD_TIMEOUT_S = 30.0


def fetch(name: str, root: Path) -> tuple[Decoded, bool]:
    """Dataset ``name`` under ``root``, downloaded first when absent; returns it decoded and whether it was fetched."""
    source = SOURCES[name]
    try:
        locate(source, root)
    except DataError as missing:
        _download(name, root, missing)
        return decode(name, root), True
    return decode(name, root), False


def _download(name: str, root: Path, missing: DataError) -> None:
    from torchvision import datasets

    source = SOURCES[name]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # an unreachable mirror must fail, not hang
    try:
        root.mkdir(parents=True, exist_ok=True)
        cls = getattr(datasets, source.torchvision_class)
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as exc:  # noqa: BLE001 - urllib, ssl and torchvision raise many kinds; all mean "no copy"
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"could not download {source.title} into {root} ({type(exc).__name__}: {reason[:300]}).\n"
            f"This machine may have no network. Put the files there yourself instead: {source.layout(root)}.\n"
            f"What was found: {missing.message.splitlines()[0]}"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
