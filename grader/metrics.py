"""Metrics the trusted side computes from what a run returned and the labels only the grader holds (numpy only).

Every function takes untrusted predictions: wrong shapes, NaN or out-of-range values give the worst
score (or raise ``ValueError`` for the confusion matrix), never a crash of the grader or a flattering number.
"""

from __future__ import annotations

import numpy as np


def logits_usable(logits: np.ndarray, labels: np.ndarray) -> bool:
    """Whether ``logits`` is a finite (N, classes) array matching ``labels``."""
    return (logits.ndim == 2 and logits.shape[0] == labels.shape[0] and logits.shape[1] > int(labels.max(initial=0))
            and bool(np.all(np.isfinite(logits))))


def classification(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``logits`` against ``labels``; inf / 0 when the logits are unusable."""
    logits = np.asarray(logits, dtype=np.float64)
    if not logits_usable(logits, labels):
        return {"loss": float("inf"), "accuracy": 0.0}
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(labels)), labels].mean())
    return {"loss": loss, "accuracy": float((logits.argmax(axis=1) == labels).mean())}


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    predicted = np.asarray(predicted)
    if predicted.shape != labels.shape or predicted.min(initial=0) < 0 or predicted.max(initial=0) >= num_classes:
        raise ValueError(f"predictions must be {labels.shape} class numbers in 0..{num_classes - 1}")
    return np.bincount(labels * num_classes + predicted.astype(np.int64),
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def reconstruction_mse(originals: np.ndarray, reconstructions: np.ndarray) -> float:
    """Mean squared error per pixel between images in [0, 1]; inf when shapes differ or values are not finite."""
    recon = np.asarray(reconstructions, dtype=np.float64)
    if recon.size != originals.size or not np.all(np.isfinite(recon)):
        return float("inf")
    return float(np.mean((recon.reshape(originals.shape) - originals.astype(np.float64)) ** 2))
