"""Reference solution for ``fashion_transfer`` ("task 2": transfer learning three ways).

Train on Fashion-MNIST (a) a new model from scratch, (b) the model trained earlier on a 6-class task
(MNIST digits 0-5) with its head replaced by a 10-class head, fine-tuning the whole network, and (c) the
same, fine-tuning only the head; then compare. The grader produces the 6-class checkpoint itself, by
training this very ``build_model(6)`` on MNIST 0-5, and hands its path to ``load_pretrained``.

A submission must define ``build_model``, ``train``, ``load_pretrained``, ``replace_head``,
``freeze_backbone`` and ``make_optimizer``; see ``assignments/fashion_transfer/spec.yaml``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TransferNet", "build_model", "train", "load_pretrained", "replace_head", "freeze_backbone",
           "make_optimizer"]

SOURCE_CLASSES = 6
FEATURES = 64


class TransferNet(nn.Module):
    """A small CNN split into a reusable ``backbone`` (images -> 64 features) and a linear ``head``."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 14 x 14
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 7 x 7
            nn.Flatten(), nn.Linear(32 * 7 * 7, FEATURES), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def build_model(num_classes: int) -> nn.Module:
    """A fresh model with ``num_classes`` outputs (about 106k parameters)."""
    return TransferNet(num_classes)


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """Adam over the parameters that still learn; frozen ones are left out."""
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)


def train(model: nn.Module, train_loader, *, epochs: int, device: str | torch.device,
          optimizer: torch.optim.Optimizer | None = None) -> list[float]:
    """Cross-entropy training in place; the mean loss of each epoch."""
    model.to(device).train()
    optimizer = optimizer or make_optimizer(model)
    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            count += len(labels)
        history.append(total / count)
    return history


def load_pretrained(path) -> nn.Module:
    """The 6-class model saved with ``torch.save(model.state_dict(), path)``; strict loading, so nothing is skipped."""
    model = build_model(SOURCE_CLASSES)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


def replace_head(model: nn.Module, num_classes: int = 10) -> nn.Module:
    """A new, randomly initialised linear head; the backbone keeps its weights."""
    model.head = nn.Linear(model.head.in_features, num_classes).to(model.head.weight.device)
    return model


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Backbone parameters stop learning (no gradient is computed for them); the head still learns."""
    for param in model.backbone.parameters():
        param.requires_grad_(False)
    return model
