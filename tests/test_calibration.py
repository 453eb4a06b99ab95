"""The reference runs through the same pipeline, its observations are cached by fingerprint, and a
reference that fails its own checks stops calibration with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import CalibrationError
from grader.pipeline import Batch
from grader.spec import load_spec

from .conftest import REPO, write_spec_variant

pytestmark = pytest.mark.slow
LIMITS = {"cell_s": 30, "submission_s": 120}


def test_reference_is_cached_and_the_fingerprint_tracks_the_spec(tmp_path: Path) -> None:
    spec_path = write_spec_variant(tmp_path / "a", "conv1x1", LIMITS)
    with Batch(load_spec(spec_path, root=REPO), "check") as batch:
        first = batch.calibrate()
    assert not first.cached and (first.path / "calibration.json").is_file()
    with Batch(load_spec(spec_path, root=REPO), "check") as batch:
        again = batch.calibrate()
    assert again.cached and again.fingerprint == first.fingerprint
    assert set(again.observations) == set(first.observations)

    changed = write_spec_variant(tmp_path / "b", "conv1x1", {**LIMITS, "cell_s": 31})
    with Batch(load_spec(changed, root=REPO), "check") as batch:
        other = batch.calibrate()
    assert not other.cached and other.fingerprint != first.fingerprint
    assert other.components["reference_sha256"] == first.components["reference_sha256"]
    assert other.components["spec_sha256"] != first.components["spec_sha256"]


def test_a_reference_that_fails_its_own_checks_is_refused(tmp_path: Path) -> None:
    broken = "tests/fixtures/submissions/conv1x1/missing_names.py"
    spec_path = write_spec_variant(tmp_path, "conv1x1", LIMITS, reference=broken)
    with Batch(load_spec(spec_path, root=REPO), "check") as batch:
        with pytest.raises(CalibrationError) as exc:
            batch.calibrate()
    message = str(exc.value)
    assert "missing_names.py" in message and "failed under profile 'check'" in message
    assert "does not define `build_model`" in message


def test_seed_summary_gives_mean_spread_and_fingerprints(tmp_path: Path) -> None:
    from grader.calibration import ReferenceData, summarize_seeds

    def run(seed: int, mse: float, seconds: float) -> ReferenceData:
        return ReferenceData(f"fp{seed}", {}, {"torch": "2.x"}, {"recon": {"mse": mse, "history": [1, 2], "ok": True, "cases": 3}},
                             tmp_path, False, {"data": {"digits": "d"}, "plan_sha256": "p"}, seconds)

    summary = summarize_seeds({0: run(0, 0.010, 20.0), 1: run(1, 0.012, 25.0), 2: run(2, 0.014, 30.0)})
    entry = summary["figures"]["recon"]["mse"]
    assert entry["mean"] == pytest.approx(0.012) and entry["std"] == pytest.approx(0.002)
    assert entry["values"] == {"0": 0.010, "1": 0.012, "2": 0.014} and set(summary["figures"]["recon"]) == {"mse"}
    assert summary["seeds"] == [0, 1, 2] and summary["fingerprints"]["2"] == "fp2"
    assert summary["reference_run_s"]["max"] == 30.0 and "plan_sha256" not in summary["components"]
