# ResNet-50 on CIFAR-10 - Lee
#
# I wrote the network myself instead of importing torchvision's, to be sure I understand the
# bottleneck block: 1x1 conv (reduce) -> 3x3 conv -> 1x1 conv (expand x4), each followed by BN,
# plus a shortcut that is the identity, or a 1x1 conv + BN when the shape changes (first block
# of every stage). Stem = the ImageNet one (7x7 stride-2 conv, 3x3 stride-2 max-pool), so a
# 32x32 image is 8x8 in stage 1 and 1x1 in stage 4: fast enough to try things on my laptop.
# Parameter count checked against torchvision.models.resnet50(weights=None, num_classes=10):
# both have 23,528,522.

ANSWER_RESIDUAL = """\
A residual block computes out = x + F(x), so its Jacobian is d(out)/dx = I + dF/dx. When the
gradient is backpropagated through many blocks it is multiplied by (I + dF/dx) at every block
instead of by dF/dx alone; expanding the product, one term is the identity, so part of the
gradient reaches the first layers unchanged through the chain of shortcuts, however small the
layer Jacobians are. In a plain deep network the gradient is a product of many layer Jacobians,
which shrinks exponentially with depth when they are small (vanishing gradients). The shortcut
also makes the identity easy to learn (F(x) = 0, i.e. weights near zero), so adding blocks can
never make the optimisation much harder than with a shallower net, and very deep nets
(50+ layers) still train.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Subset

EXPANSION = 4                      # a bottleneck's output has 4x its "width" channels
STAGES = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]  # (width, blocks, stride) of ResNet-50


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convolutions with a shortcut; the stride sits on the 3x3 conv."""

    def __init__(self, in_channels, width, stride=1):
        super().__init__()
        out_channels = width * EXPANSION
        # no conv biases: the BatchNorm right after each conv has its own shift
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        # projection shortcut only when the shape changes (channels or resolution)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))   # the residual connection


class ResNet50(nn.Module):
    def __init__(self, num_classes=10, dropout=0.0):
        super().__init__()
        # ImageNet stem: 32x32 -> 16x16 (conv) -> 8x8 (max-pool)
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages, channels = [], 64
        for width, blocks, stride in STAGES:
            layers = []
            for i in range(blocks):
                # only the first block of a stage downsamples / changes the channel count
                layers.append(Bottleneck(channels, width, stride if i == 0 else 1))
                channels = width * EXPANSION
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)      # any input size -> 1x1
        # exercise 5: dropout right before the classifier, only when asked for
        self.dropout = nn.Dropout(p=dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)   # channels = 2048

        # He initialisation for the convs, BN starts as the identity (like torchvision)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(self.dropout(x))


def build_model(num_classes=10, dropout=0.0):
    return ResNet50(num_classes, dropout)


def _labels_of(dataset):
    """Class label of every item; uses .targets (CIFAR10) when there is one."""
    if hasattr(dataset, "targets"):
        return np.asarray(dataset.targets).astype(np.int64).reshape(-1)
    return np.array([int(dataset[i][1]) for i in range(len(dataset))], dtype=np.int64)


def split_dataset(dataset, val_fraction=0.1, seed=0):
    """Stratified split: every class contributes ~val_fraction of its images to validation."""
    rng = np.random.default_rng(seed)
    labels = _labels_of(dataset)
    n_val = round(val_fraction * len(labels))

    classes, counts = np.unique(labels, return_counts=True)
    # how many validation images per class: floor of the exact share, then the leftover images
    # go to the classes with the largest fractional parts, so the total is exactly n_val
    share = val_fraction * counts
    per_class = np.floor(share).astype(int)
    leftover = n_val - per_class.sum()
    for c in np.argsort(-(share - per_class), kind="stable")[:max(leftover, 0)]:
        per_class[c] += 1

    train_idx, val_idx = [], []
    for c, k in zip(classes, per_class):
        idx = rng.permutation(np.flatnonzero(labels == c))
        val_idx.extend(idx[:k].tolist())
        train_idx.extend(idx[k:].tolist())
    # shuffle so the subsets aren't ordered by class
    train_idx = rng.permutation(train_idx).tolist()
    val_idx = rng.permutation(val_idx).tolist()
    return Subset(dataset, train_idx), Subset(dataset, val_idx)


def _as_long_tensor(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().long().reshape(-1)
    return torch.as_tensor(np.asarray(x), dtype=torch.long).reshape(-1)


def compute_metrics(y_true, y_pred, num_classes=10):
    y_true, y_pred = _as_long_tensor(y_true), _as_long_tensor(y_pred)
    # confusion matrix in one bincount: cell (t, p) has index t * C + p -> rows true, cols predicted
    cm = torch.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2)
    cm = cm.reshape(num_classes, num_classes).double()

    tp = cm.diag()
    predicted = cm.sum(dim=0)   # column sums: how often each class was predicted
    actual = cm.sum(dim=1)      # row sums: how many true examples each class has
    # per-class scores; a 0/0 counts as 0 (same as sklearn's zero_division=0)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(tp))

    return {
        "accuracy": (tp.sum() / max(len(y_true), 1)).item(),
        "precision": precision.mean().item(),   # macro = plain mean over the classes
        "recall": recall.mean().item(),
        "f1": f1.mean().item(),
        "confusion_matrix": cm.long().tolist(),
    }


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()                     # BN running stats, dropout off
    correct, total = 0, 0
    for images, labels in loader:
        preds = model(images.to(device)).argmax(dim=1)
        correct += (preds == labels.to(device)).sum().item()
        total += labels.size(0)
    return correct / max(total, 1)


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = {"loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        model.train()                # evaluate() switched to eval mode
        running, batches = 0.0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
            batches += 1
        history["loss"].append(running / max(batches, 1))
        history["val_accuracy"].append(evaluate(model, val_loader, device))
    return history
