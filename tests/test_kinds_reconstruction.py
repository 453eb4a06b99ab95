"""Trusted scoring of the autoencoder's kinds on hand-made observations: reconstruction, new predicates, baselines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grader.baselines import pca_baseline, pca_reconstruction_mse
from grader.checks.base import Observation, judge_history

from .test_scoring_units import score

RNG = np.random.default_rng(0)
TRAIN = (RNG.random((300, 4, 4)) * 255).astype(np.uint8)
EVAL = (RNG.random((20, 4, 4)) * 255).astype(np.uint8)
TRUTH = {"digits": {"eval_x": EVAL, "eval_y": np.zeros(20, dtype=np.int64), "train_x": TRAIN,
                    "train_rows": np.arange(300)[::-1].copy()}}
PARAMS = {"target": "Autoencoder", "init": {"code_dim": 3}, "train": "train", "dataset": "digits",
          "code_size": "$code_dim", "grid": 4}
BUDGET = {"epochs": 3, "train_size": 200, "eval_size": 10}
THRESHOLDS = {"mse_vs_reference": 1.25, "mse_vs_pca": 1.0}


def reconstruction(noise: float, history: Any = (0.3, 0.2, 0.1), rows: int = 10) -> Observation:
    """Observations whose reconstructions are the hidden images plus ``noise`` (clipped to [0, 1])."""
    originals = EVAL[:rows].reshape(rows, -1) / 255.0
    noisy = np.clip(originals + noise * np.random.default_rng(1).standard_normal(originals.shape), 0, 1)
    data: dict[str, Any] = {"history": list(history)} if not isinstance(history, str) else {"history_problem": history}
    return Observation(data={**data, "train_size": 200}, arrays={"reconstructions": noisy.astype(np.float32)})


REFERENCE = reconstruction(0.05)


def run(student: Observation, **overrides: Any) -> Any:
    return score("reconstruction", PARAMS, student, REFERENCE, budget=BUDGET,
                 thresholds={**THRESHOLDS, **overrides}, truth=TRUTH, hint="add a sigmoid")


def test_pca_matches_scikit_learn() -> None:
    from sklearn.decomposition import PCA

    train, test = TRAIN.reshape(300, -1) / 255.0, EVAL.reshape(20, -1) / 255.0
    pca = PCA(n_components=5).fit(train)
    expected = float(np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2))
    assert pca_reconstruction_mse(train, test, 5) == pytest.approx(expected, rel=1e-7)
    assert pca_reconstruction_mse(TRAIN, EVAL, 5, scale=1 / 255) == pytest.approx(expected, rel=1e-7)
    assert pca_reconstruction_mse(train, test, 16) == pytest.approx(0.0, abs=1e-20)  # every axis kept
    with pytest.raises(ValueError):
        pca_reconstruction_mse(train, test, 0)


def test_pca_baseline_is_remembered_by_content() -> None:
    first = pca_baseline(TRAIN[:100], EVAL, 3)
    assert pca_baseline(TRAIN[:100].copy(), EVAL.copy(), 3) == first
    assert pca_baseline(TRAIN[100:200], EVAL, 3) != first  # other images, another baseline


def test_good_reconstruction_meets_every_bar() -> None:
    verdict = run(reconstruction(0.05))
    assert verdict.passed, verdict.message
    assert "3 of 3 bars met" in verdict.message
    assert verdict.details["pca_mse"] > verdict.details["mse"]
    grid = verdict.figures[0]
    assert grid["type"] == "image_grid" and grid["row_labels"][1] == "your reconstructions"


def test_pca_baseline_uses_the_training_images_of_the_budget() -> None:
    verdict = run(reconstruction(0.05))
    rows = TRUTH["digits"]["train_rows"][:200]
    expected = pca_reconstruction_mse(TRAIN[rows], EVAL[:10], 3, scale=1 / 255)
    assert verdict.details["pca_mse"] == pytest.approx(expected)
    assert "same 200 training images" in verdict.message


def test_worse_than_reference_and_pca_fails_two_bars() -> None:
    verdict = run(reconstruction(0.4))
    assert verdict.fraction == pytest.approx(1 / 3)
    assert verdict.message.count("NOT met") == 2 and "Hint: add a sigmoid" in verdict.message


@pytest.mark.parametrize("history, problem", [
    ((0.3, 0.4, 0.5), "did not fall"),
    ((0.3, None, 0.1), "NaN or infinite"),
    ((0.3, 0.2), "2 losses for 3 epoch(s)"),
    ("train() returned a NoneType, not a list of per-epoch losses", "NoneType"),
])
def test_bad_loss_history_costs_its_bar(history: Any, problem: str) -> None:
    verdict = run(reconstruction(0.05, history=history))
    assert verdict.fraction == pytest.approx(2 / 3)
    assert problem in verdict.message


def test_unscaled_outputs_are_explained_and_fail() -> None:
    logits = Observation(data={"history": [0.3, 0.2, 0.1]},
                         arrays={"reconstructions": (EVAL[:10].reshape(10, -1) / 255.0 * 8 - 4).astype(np.float32)})
    verdict = run(logits)
    assert verdict.fraction == pytest.approx(1 / 3)
    assert "is a final sigmoid missing?" in verdict.message


@pytest.mark.parametrize("arrays", [{}, {"reconstructions": np.zeros((10, 5), np.float32)},
                                    {"reconstructions": np.full((10, 16), np.nan, np.float32)}])
def test_missing_wrong_sized_or_nan_reconstructions_fail(arrays: dict[str, np.ndarray]) -> None:
    verdict = run(Observation(data={"history": [0.3, 0.2, 0.1]}, arrays=arrays))
    assert verdict.fraction == pytest.approx(1 / 3)
    assert "not comparable" in verdict.message
    assert verdict.details["mse"] is None


def test_judge_history_single_epoch_needs_no_fall() -> None:
    assert judge_history({"history": [0.5]}, 1)[1]
    assert not judge_history({}, 1)[1]
    assert not judge_history({"history": [True]}, 1)[1]


# --- architecture predicates ------------------------------------------------------------------------------

def module(path: str, kind: str, call: int | None, out: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    entry = {"path": path, "type": kind, "learnable": kind in ("Linear", "Conv2d"), **extra}
    if call is not None:
        entry["call"] = call
    if out is not None:
        entry["out_shape"] = out
    return entry


FC = [module("(model)", "Autoencoder", 2), module("enc", "Linear", 0, [4, 32], in_features=784, out_features=32),
      module("dec", "Linear", 1, [4, 784], in_features=32, out_features=784)]
WIDE = [module("enc", "Linear", 0, [4, 784], in_features=784, out_features=784),
        module("dec", "Linear", 1, [4, 784], in_features=784, out_features=784)]
CONV = [module("conv", "Conv2d", 0, [4, 8, 14, 14]), module("fc", "Linear", 1, [4, 32], in_features=1568, out_features=32),
        module("unused", "Linear", None, None, in_features=32, out_features=32),
        module("up", "ConvTranspose2d", 2, [4, 1, 28, 28], learnable=True)]


def arch(predicate: str, modules: list[dict[str, Any]], **params: Any) -> Any:
    base = {"target": "Autoencoder", "init": {"code_dim": 32}, "input": [4, 1, 28, 28], "predicate": predicate}
    return score("architecture", {**base, **params}, Observation(data={"modules": modules}), Observation())


def test_learnable_layers_only() -> None:
    assert arch("learnable_layers_only", FC, allowed_layers=["Linear"]).passed
    verdict = arch("learnable_layers_only", [*CONV[:3], {**CONV[3], "learnable": True}], allowed_layers=["Linear"])
    assert not verdict.passed and "conv (Conv2d)" in verdict.message and "up (ConvTranspose2d)" in verdict.message


def test_linear_chain() -> None:
    assert arch("linear_chain", FC, expected_widths=[784, "$code_dim", 784]).passed
    wide = arch("linear_chain", WIDE, expected_widths=[784, "$code_dim", 784])
    assert not wide.passed and "784 -> 784, then 784 -> 784" in wide.message
    assert "784 -> 32, then 32 -> 784" in wide.message
    conv = arch("linear_chain", CONV, expected_widths=[784, "$code_dim", 784])
    assert not conv.passed and "1568 -> 32 in its forward pass" in conv.message  # the unused Linear did not run


def test_undercomplete() -> None:
    assert arch("undercomplete", FC).passed
    verdict = arch("undercomplete", WIDE)
    assert not verdict.passed and "copy its input" in verdict.message
    assert arch("undercomplete", CONV).passed  # 32 values at its narrowest


def test_code_size_must_name_an_init_key() -> None:
    from pydantic import ValidationError

    from grader.checks.reconstruction import Params

    with pytest.raises(ValidationError, match="names no key of init"):
        Params.model_validate({**PARAMS, "code_size": "$width"})
    assert Params.model_validate({**PARAMS, "code_size": 7}).components() == 7
