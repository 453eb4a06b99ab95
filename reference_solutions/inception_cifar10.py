"""Reference solution for ``inception_cifar10`` (HW3 question 7: a CNN with an Inception module, aim for > 80%).

GoogLeNet's Inception module (four parallel branches concatenated on channels) in a small CIFAR-10 network:
a 3x3 stem, two Inception modules at 16x16, two at 8x8, global average pooling and a linear classifier
(about 257k parameters, about 24M multiply-adds per image). A submission must define ``InceptionModule``,
``build_model``, ``conv_output_size`` and ``train``; see ``assignments/inception_cifar10/spec.yaml``.

Stride and spatial size: a convolution maps a size n to floor((n + 2p - d(k - 1) - 1) / s) + 1, so stride s
divides the output size by about s; every branch of an Inception module uses stride 1 with "same" padding
(p = (k - 1) / 2) so that the four outputs keep the input's size and can be concatenated.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["InceptionModule", "build_model", "conv_output_size", "train"]


def conv_bn(c_in: int, c_out: int, kernel_size: int) -> nn.Sequential:
    """Convolution ("same" padding, stride 1), batch normalization, ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class InceptionModule(nn.Module):
    """1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool -> 1x1, concatenated on channels."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3_reduce: int, ch3x3: int, ch5x5_reduce: int, ch5x5: int,
                 pool_proj: int) -> None:
        super().__init__()
        self.branch1 = conv_bn(in_channels, ch1x1, 1)
        self.branch3 = nn.Sequential(conv_bn(in_channels, ch3x3_reduce, 1), conv_bn(ch3x3_reduce, ch3x3, 3))
        self.branch5 = nn.Sequential(conv_bn(in_channels, ch5x5_reduce, 1), conv_bn(ch5x5_reduce, ch5x5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv_bn(in_channels, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1)


class InceptionNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 32, 3), nn.MaxPool2d(2))                 # 32 x 16 x 16
        self.stage1 = nn.Sequential(InceptionModule(32, 16, 24, 32, 4, 8, 8),          # 64
                                    InceptionModule(64, 32, 32, 64, 8, 16, 16),        # 128
                                    nn.MaxPool2d(2))                                   # 128 x 8 x 8
        self.stage2 = nn.Sequential(InceptionModule(128, 64, 48, 96, 12, 32, 32),      # 224
                                    InceptionModule(224, 96, 64, 128, 16, 48, 48))     # 320
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(320, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels_last: on a CPU, PyTorch's 3x3 stride-1 max-pool is several times faster in this layout
        x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.stage2(self.stage1(self.stem(x))))


def build_model(num_classes: int = 10) -> nn.Module:
    return InceptionNet(num_classes).to(memory_format=torch.channels_last)


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1, as nn.Conv2d computes it."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def train(model: nn.Module, train_loader, val_loader, *, epochs: int, device) -> dict:
    """SGD with Nesterov momentum, weight decay and a one-cycle schedule; per-epoch loss and accuracies."""
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=epochs * len(train_loader),
                                                   pct_start=0.25)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = model(images)
            loss = nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item() * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        history["train_loss"].append(loss_sum / max(seen, 1))
        history["train_acc"].append(correct / max(seen, 1))
        model.eval()
        right, total = 0, 0
        with torch.no_grad():
            for images, labels in val_loader:
                right += int((model(images.to(device)).argmax(1).cpu() == labels).sum())
                total += len(labels)
        history["val_acc"].append(right / max(total, 1))
    return history
