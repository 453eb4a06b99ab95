"""Shared fixtures: the repo's paths, an isolated calibration cache, generated data, conv1x1 with short limits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test session calibrates into its own cache, never the user's."""
    cache = tmp_path_factory.mktemp("calibration-cache")
    os.environ["DLGRADER_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session", autouse=True)
def fixture_data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny learnable MNIST, Fashion-MNIST and CIFAR-10 in their real formats; ``$DLGRADER_DATA`` points here."""
    from grader.data.fixtures import write_fixture_root

    root = write_fixture_root(tmp_path_factory.mktemp("fixture-data"), train_per_class=200, test_per_class=50)
    os.environ["DLGRADER_DATA"] = str(root)
    return root


@pytest.fixture(scope="session")
def real_data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real datasets, unpacked from ../shared/datasets (``$DLGRADER_REAL_DATA`` reuses an unpacked copy)."""
    if os.environ.get("DLGRADER_REAL_DATA"):
        return Path(os.environ["DLGRADER_REAL_DATA"])
    shared = REPO.parent / "shared" / "datasets" / "prepare.py"
    if not shared.is_file():
        pytest.skip(f"real datasets absent: {shared} does not exist (tests on real data need ../shared)")
    dest = tmp_path_factory.mktemp("real-data")
    subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_shared_data.py"), str(dest)], check=True,
                   stdout=subprocess.DEVNULL)
    return dest


def write_spec_variant(folder: Path, assignment: str, limits: dict[str, float], **changes: object) -> Path:
    """A copy of ``assignments/<assignment>/spec.yaml`` with other limits (both profiles) under ``folder``."""
    raw = yaml.safe_load((REPO / "assignments" / assignment / "spec.yaml").read_text())
    for profile in raw["profiles"].values():
        profile.setdefault("limits", {}).update(limits)
    raw.update(changes)
    target = folder / assignment / "spec.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


@pytest.fixture(scope="session")
def fast_conv1x1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """conv1x1 with limits short enough for tests: the never-ending submissions are cut off quickly."""
    folder = tmp_path_factory.mktemp("assignments")
    write_spec_variant(folder, "conv1x1", {"cell_s": 20, "submission_s": 60, "startup_s": 60})
    return folder
