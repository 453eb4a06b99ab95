# MISTAKE (example submission): eval_transform() also applies RandomHorizontalFlip and RandomCrop, i.e. the
# images used for evaluation (and, in the grader's baseline run, the baseline's training images) are
# augmented at random. Evaluation must be deterministic: ToTensor + Normalize only.
# Expected to fail: eval_transform_deterministic. The grader's baseline run trains on eval_transform()
# images, so here the baseline is augmented too and hardly overfits: baseline_overfits and
# regularized_gap_smaller fail as well (10 epochs on 1500 CIFAR images: baseline gap about 0.04
# instead of about 0.4, regularized / baseline gap ratio about 0.86).
#
# Uma - CIFAR-10 subset, overfitting vs regularization

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import transforms

MEAN, STD = [0.491, 0.482, 0.447], [0.247, 0.243, 0.262]


def make_subset(dataset, fraction=0.2, seed=0):
    n_keep = round(len(dataset) * fraction)
    perm = np.random.RandomState(seed).permutation(len(dataset))
    return torch.utils.data.Subset(dataset, perm[:n_keep].tolist())


class Baseline(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.c3 = nn.Conv2d(32, 64, 3, padding=1)
        self.out = nn.Linear(64 * 8 * 8, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        return self.out(x.flatten(1))


class Regularized(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.drop = nn.Dropout(0.4)
        self.out = nn.Linear(64 * 4 * 4, num_classes)

    def forward(self, x):
        return self.out(self.drop(self.body(x).flatten(1)))


def build_baseline(num_classes=10):
    return Baseline(num_classes)


def build_regularized(num_classes=10):
    return Regularized(num_classes)


def train_transform():
    return transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def eval_transform():
    # same pipeline as for training so that validation images look like the training images
    return transforms.Compose([
        transforms.RandomHorizontalFlip(),
        transforms.RandomCrop(32, padding=4),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def make_optimizer(model, regularized):
    wd = 1e-4 if regularized else 0
    return torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=wd)


def train(model, train_loader, val_loader, *, epochs, device, optimizer):
    model.to(device)
    hist = {"train_acc": [], "val_acc": [], "train_loss": []}
    for ep in range(epochs):
        model.train()
        correct = count = 0
        total_loss = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += (logits.argmax(1) == y).sum().item()
            count += y.shape[0]
            total_loss += loss.item() * y.shape[0]
        hist["train_acc"].append(correct / count)
        hist["train_loss"].append(total_loss / count)
        model.eval()
        correct = count = 0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                correct += (model(x).argmax(1) == y).sum().item()
                count += y.shape[0]
        hist["val_acc"].append(correct / count)
    return hist


if __name__ == "__main__":
    import torchvision

    root = os.environ.get("DATA_ROOT", "data")
    dev = os.environ.get("DEVICE", "cpu")
    full_eval = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=eval_transform())
    full_aug = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=train_transform())
    val = torchvision.datasets.CIFAR10(root, train=False, download=True, transform=eval_transform())
    val_loader = torch.utils.data.DataLoader(val, batch_size=500)
    for reg, ds, build in [(False, full_eval, build_baseline), (True, full_aug, build_regularized)]:
        m = build()
        loader = torch.utils.data.DataLoader(make_subset(ds), batch_size=64, shuffle=True)
        h = train(m, loader, val_loader, epochs=15, device=dev, optimizer=make_optimizer(m, reg))
        print(reg, h)
