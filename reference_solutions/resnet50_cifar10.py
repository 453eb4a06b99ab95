"""Reference solution for ``resnet50_cifar10`` (part 2, exercises 2 and 5).

ResNet-50 on CIFAR-10 with a train/validation split of the training set, accuracy / macro precision,
recall, F1 / confusion matrix, and a variant with dropout before the final layer. torchvision's ResNet-50 with
its ImageNet stem (7x7 stride-2 convolution and max-pool): 23,528,522 parameters for 10 classes, and cheap
enough on 32x32 images for the CPU checks. A submission must define ``build_model``, ``split_dataset``,
``compute_metrics`` and ``train``; see ``assignments/resnet50_cifar10/spec.yaml``.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision
from torch import nn
from torch.utils.data import Subset

__all__ = ["build_model", "split_dataset", "compute_metrics", "train", "ANSWER_RESIDUAL"]

ANSWER_RESIDUAL = """\
A residual block computes out = x + F(x), so the Jacobian of a block is I + dF/dx. Back-propagating through
many blocks multiplies these Jacobians; without the identity term the product of many small factors shrinks
towards zero (vanishing gradients), but with it every product contains a direct identity path, so the
gradient of the loss reaches the first layers undiminished. A block whose F is not useful can also learn
F = 0 and pass its input through, so adding depth cannot make the network harder to optimise.
"""


def build_model(num_classes: int = 10, dropout: float = 0.0) -> nn.Module:
    """torchvision's ResNet-50 (no pretrained weights); ``dropout > 0`` puts nn.Dropout before the last layer."""
    model = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if dropout > 0:
        model.fc = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(model.fc.in_features, num_classes))
    return model


def split_dataset(dataset, val_fraction: float = 0.1, seed: int = 0) -> tuple[Subset, Subset]:
    """A seeded random permutation cut in two: disjoint, covering, round(val_fraction * N) validation images."""
    n = len(dataset)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = round(val_fraction * n)
    return Subset(dataset, order[n_val:]), Subset(dataset, order[:n_val])


def compute_metrics(y_true, y_pred, num_classes: int = 10) -> dict:
    """Accuracy, macro precision / recall / F1 (0 where a denominator is 0) and the confusion matrix (rows = true)."""
    y_true = torch.as_tensor(y_true).cpu().numpy().astype(np.int64).ravel()  # lists, arrays, tensors on any device
    y_pred = torch.as_tensor(y_pred).cpu().numpy().astype(np.int64).ravel()
    cm = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return {"accuracy": float(tp.sum() / max(len(y_true), 1)), "precision": float(precision.mean()),
            "recall": float(recall.mean()), "f1": float(f1.mean()), "confusion_matrix": cm.tolist()}


def train(model: nn.Module, train_loader, val_loader, *, epochs: int, device) -> dict:
    """AdamW with a cosine schedule; per-epoch loss and accuracy on both loaders."""
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train_loader))
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = model(images)
            loss = nn.functional.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item() * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        history["train_loss"].append(loss_sum / max(seen, 1))
        history["train_acc"].append(correct / max(seen, 1))
        val_loss, val_acc = evaluate(model, val_loader, device)
        history["val_loss"].append(val_loss)
        history["val_acc"].append(val_acc)
    return history


def evaluate(model: nn.Module, loader, device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode."""
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
    return loss_sum / max(seen, 1), correct / max(seen, 1)
