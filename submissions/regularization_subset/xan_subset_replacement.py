# MISTAKE (example submission): make_subset draws its indices WITH replacement (torch.randint), so the
# subset holds some images twice or more and fewer than round(0.2 * N) distinct images (about 18% of the
# dataset instead of 20%). It should take the first k entries of a permutation (torch.randperm).
# Expected to fail: subset_unique (len(subset) is still round(0.2 * N), so subset_size passes as long as it
# counts len(subset) rather than distinct images).
#
# Xan: overfitting on a small CIFAR-10 subset and fixing it with regularization

import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T


def make_subset(dataset, fraction=0.2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    size = round(fraction * len(dataset))
    indices = torch.randint(0, len(dataset), (size,), generator=gen)
    return torch.utils.data.Subset(dataset, indices.tolist())


class ConvNet(nn.Module):
    """Three 3x3 conv layers; the regularized variant adds batch norm, an extra pooling step and dropout."""

    def __init__(self, num_classes=10, regularized=False):
        super().__init__()
        self.regularized = regularized
        layers = []
        c_in = 3
        for i, c_out in enumerate([16, 32, 64]):
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            if regularized:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU())
            if i < 2 or regularized:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = 4 if regularized else 8
        head = [nn.Flatten()]
        if regularized:
            head.append(nn.Dropout(p=0.5))
        head.append(nn.Linear(64 * side * side, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(self.features(x))


def build_baseline(num_classes=10):
    return ConvNet(num_classes, regularized=False)


def build_regularized(num_classes=10):
    return ConvNet(num_classes, regularized=True)


MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def train_transform():
    return T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])


def eval_transform():
    return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])


def make_optimizer(model, regularized):
    return torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, nesterov=True,
                           weight_decay=5e-4 if regularized else 0.0)


def evaluate(model, loader, device):
    model.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for x, y in loader:
            pred = model(x.to(device)).argmax(dim=1)
            correct += (pred == y.to(device)).sum().item()
            total += len(y)
    return correct / total


def train(model, train_loader, val_loader, *, epochs, device, optimizer):
    model.to(device)
    history = {"train_loss": [], "train_acc": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        losses, correct, total = [], 0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss = F.cross_entropy(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            correct += (out.argmax(dim=1) == y).sum().item()
            total += len(y)
        history["train_loss"].append(sum(losses) / len(losses))
        history["train_acc"].append(correct / total)
        history["val_acc"].append(evaluate(model, val_loader, device))
    return history


if __name__ == "__main__":
    import torchvision

    root = os.environ.get("DATA_ROOT", "data")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    val_loader = torch.utils.data.DataLoader(
        torchvision.datasets.CIFAR10(root, train=False, download=True, transform=eval_transform()), batch_size=512)
    for reg in (False, True):
        train_set = torchvision.datasets.CIFAR10(root, train=True, download=True,
                                                 transform=train_transform() if reg else eval_transform())
        subset = make_subset(train_set, 0.2, seed=0)
        model = build_regularized() if reg else build_baseline()
        loader = torch.utils.data.DataLoader(subset, batch_size=64, shuffle=True)
        hist = train(model, loader, val_loader, epochs=20, device=device, optimizer=make_optimizer(model, reg))
        print("regularized" if reg else "baseline", hist["train_acc"][-1], hist["val_acc"][-1])
