"""Trusted-side metrics: agree with scikit-learn, and refuse to flatter malformed predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import log_loss

from grader import metrics


@pytest.mark.parametrize("seed", range(5))
def test_classification_and_confusion_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=50)
    logits = rng.normal(size=(50, 4)) * 3
    got = metrics.classification(logits, labels)
    assert got["accuracy"] == pytest.approx(float((logits.argmax(1) == labels).mean()))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert got["loss"] == pytest.approx(log_loss(labels, probs, labels=range(4)))
    predicted = logits.argmax(1)
    assert metrics.confusion_matrix(labels, predicted, 4).tolist() == sk_confusion(labels, predicted, labels=range(4)).tolist()


@pytest.mark.parametrize("logits", [np.full((3, 2), np.nan), np.zeros((2, 2)), np.zeros((3, 1)), np.zeros(3)])
def test_unusable_logits_score_worst(logits: np.ndarray) -> None:
    assert metrics.classification(logits, np.array([0, 1, 1])) == {"loss": float("inf"), "accuracy": 0.0}


def test_confusion_matrix_refuses_out_of_range_predictions() -> None:
    with pytest.raises(ValueError):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0, 7]), 2)


def test_reconstruction_mse() -> None:
    images = np.zeros((2, 1, 2, 2))
    assert metrics.reconstruction_mse(images, np.full((2, 4), 0.5)) == pytest.approx(0.25)
    assert metrics.reconstruction_mse(images, np.zeros((2, 3))) == float("inf")
    assert metrics.reconstruction_mse(images, np.full((2, 4), np.nan)) == float("inf")
