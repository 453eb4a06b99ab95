# MISTAKE (example submission): make_optimizer ignores `regularized` and never uses weight decay: the
# regularized run gets dropout, batch norm and augmentation, but no L2 penalty (weight_decay stays 0).
# Expected to fail: weight_decay.
#
# Vic
# CIFAR-10, 20% of the training set: baseline CNN vs CNN with dropout + batchnorm + augmentation.

import os
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as transforms

CIFAR_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


def make_subset(dataset, fraction=0.2, seed=0):
    count = round(fraction * len(dataset))
    rng = random.Random(seed)
    chosen = rng.sample(range(len(dataset)), count)
    return torch.utils.data.Subset(dataset, chosen)


def build_baseline(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4096, num_classes),
    )


def build_regularized(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(1024, num_classes),
    )


def train_transform():
    return transforms.Compose([
        transforms.RandomHorizontalFlip(),
        transforms.RandomCrop(32, padding=4),
        transforms.ToTensor(),
        transforms.Normalize(*CIFAR_STATS),
    ])


def eval_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(*CIFAR_STATS)])


def make_optimizer(model, regularized):
    # Adam works for both models
    return torch.optim.Adam(model.parameters(), lr=0.003)


def run_epoch(model, loader, device, optimizer=None):
    training = optimizer is not None
    model.train(training)
    correct, seen, loss_sum = 0, 0, 0.0
    with torch.set_grad_enabled(training):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
            loss_sum += loss.item() * len(y)
    return loss_sum / seen, correct / seen


def train(model, train_loader, val_loader, *, epochs, device, optimizer):
    model.to(device)
    history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    for _ in range(epochs):
        tl, ta = run_epoch(model, train_loader, device, optimizer)
        vl, va = run_epoch(model, val_loader, device)
        history["train_loss"].append(tl)
        history["train_acc"].append(ta)
        history["val_loss"].append(vl)
        history["val_acc"].append(va)
    return history


if __name__ == "__main__":
    from torchvision.datasets import CIFAR10

    root = os.environ.get("DATA_ROOT", "./data")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    val_loader = torch.utils.data.DataLoader(
        CIFAR10(root, train=False, download=True, transform=eval_transform()), batch_size=256)
    for reg in (False, True):
        data = CIFAR10(root, train=True, download=True, transform=train_transform() if reg else eval_transform())
        loader = torch.utils.data.DataLoader(make_subset(data, 0.2, seed=0), batch_size=64, shuffle=True)
        model = build_regularized() if reg else build_baseline()
        h = train(model, loader, val_loader, epochs=20, device=device, optimizer=make_optimizer(model, reg))
        print("regularized" if reg else "baseline", "train", h["train_acc"][-1], "val", h["val_acc"][-1])
