"""Reference solution for ``regularization_subset`` ("task 1": overfitting on a fifth of CIFAR-10, then fixing it).

A baseline CNN without dropout or batch normalization, trained on a random 1/5 of the training images, fits
them far better than it does validation images; the regularized CNN (batch normalization, pooling, dropout),
trained on augmented images with weight decay, keeps the two much closer. A submission must define
``make_subset``, ``build_baseline``, ``build_regularized``, ``train_transform``, ``eval_transform``,
``make_optimizer`` and ``train``; see ``assignments/regularization_subset/spec.yaml``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Subset
from torchvision import transforms

__all__ = ["make_subset", "build_baseline", "build_regularized", "train_transform", "eval_transform",
           "make_optimizer", "train"]

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def make_subset(dataset, fraction: float = 0.2, seed: int = 0) -> Subset:
    """round(fraction * N) distinct images, drawn by a seeded permutation."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return Subset(dataset, order[: round(fraction * len(dataset))].tolist())


def build_baseline(num_classes: int = 10) -> nn.Module:
    """Strided convolutions into a wide fully connected layer: easy to memorise a small training set with."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),   # 16 x 16
        nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(),   # 8 x 8
        nn.Flatten(), nn.Linear(64 * 8 * 8, 256), nn.ReLU(), nn.Linear(256, num_classes),
    )


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]


def build_regularized(num_classes: int = 10) -> nn.Module:
    """Conv-BN-ReLU-max-pool blocks, global average pooling and dropout before the classifier."""
    return nn.Sequential(
        *_block(3, 32), *_block(32, 64), *_block(64, 128),      # 128 x 4 x 4
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(p=0.3), nn.Linear(128, num_classes),
    )


def train_transform():
    """Random 32x32 crops of the image padded by 4 and random horizontal flips, then standardisation."""
    return transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                               transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def eval_transform():
    """Standardisation only: evaluation images are never augmented."""
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def make_optimizer(model: nn.Module, regularized: bool) -> torch.optim.Optimizer:
    """Adam; L2 weight decay only for the regularized model."""
    return torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4 if regularized else 0.0)


def train(model: nn.Module, train_loader, val_loader, *, epochs: int, device, optimizer) -> dict:
    """Cross-entropy training; per epoch, the accuracy on the training batches and on the validation set."""
    model.to(device)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "val_acc": []}
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
            loss_sum += loss.item() * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        history["train_loss"].append(loss_sum / max(seen, 1))
        history["train_acc"].append(correct / max(seen, 1))
        history["val_acc"].append(accuracy(model, val_loader, device))
    return history


def accuracy(model: nn.Module, loader, device) -> float:
    """Share of correctly classified images, in eval mode."""
    model.eval()
    correct, seen = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            correct += int((model(images.to(device)).argmax(1).cpu() == labels).sum())
            seen += len(labels)
    return correct / max(seen, 1)
