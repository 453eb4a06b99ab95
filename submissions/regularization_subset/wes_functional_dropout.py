# MISTAKE (example submission): build_regularized applies dropout with F.dropout(x, 0.5) in forward().
# F.dropout's `training` argument defaults to True, so dropout stays ON after model.eval(): predictions in
# eval mode are random and validation accuracy is measured on a crippled model. There is also no nn.Dropout
# module, so the layer check cannot see any dropout. (Fix: nn.Dropout(0.5), or F.dropout(x, 0.5, self.training).)
# Expected to fail: regularized_layers (no nn.Dropout*) and dropout_modes (random in eval mode). batchnorm_modes
# and the gap checks still pass (dropout is on for the training and the validation images alike).
#
# Wes -- CIFAR-10 (1/5 of it), baseline vs regularized

import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import transforms


def make_subset(dataset, fraction=0.2, seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    n = len(dataset)
    idx = torch.randperm(n, generator=g)[: round(fraction * n)]
    return torch.utils.data.Subset(dataset, idx.tolist())


class BaselineNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(64 * 8 * 8, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = F.relu(self.conv3(x))
        return self.fc(torch.flatten(x, 1))


class RegularizedNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(64)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(64 * 4 * 4, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = self.pool(F.relu(self.bn3(self.conv3(x))))
        x = torch.flatten(x, 1)
        x = F.dropout(x, 0.5)
        return self.fc(x)


def build_baseline(num_classes=10):
    return BaselineNet(num_classes)


def build_regularized(num_classes=10):
    return RegularizedNet(num_classes)


_mean = (0.4914, 0.4822, 0.4465)
_std = (0.2470, 0.2435, 0.2616)


def train_transform():
    return transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(_mean, _std),
    ])


def eval_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(_mean, _std)])


def make_optimizer(model, regularized):
    return torch.optim.SGD(model.parameters(), lr=0.04, momentum=0.9, nesterov=True,
                           weight_decay=5e-4 if regularized else 0.0)


def train(model, train_loader, val_loader, *, epochs, device, optimizer):
    model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    results = {"train_acc": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        right = total = 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            scores = model(inputs)
            loss_fn(scores, targets).backward()
            optimizer.step()
            right += (scores.argmax(1) == targets).sum().item()
            total += targets.numel()
        results["train_acc"].append(right / total)

        model.eval()
        right = total = 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                right += (model(inputs).argmax(1) == targets).sum().item()
                total += targets.numel()
        results["val_acc"].append(right / total)
    return results


if __name__ == "__main__":
    import torchvision

    root = os.environ.get("DATA_ROOT", "data")
    device = os.environ.get("DEVICE", "cpu")
    test = torchvision.datasets.CIFAR10(root, train=False, download=True, transform=eval_transform())
    test_loader = torch.utils.data.DataLoader(test, batch_size=256)
    for name, build, tf, reg in [("baseline", build_baseline, eval_transform(), False),
                                 ("regularized", build_regularized, train_transform(), True)]:
        ds = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=tf)
        model = build()
        loader = torch.utils.data.DataLoader(make_subset(ds), batch_size=64, shuffle=True)
        r = train(model, loader, test_loader, epochs=20, device=device, optimizer=make_optimizer(model, reg))
        print(name, r["train_acc"][-1], r["val_acc"][-1])
