# MISTAKE (example submission): make_subset returns the FIRST round(0.2 * N) images of the dataset
# (Subset(dataset, range(k))) instead of a random sample: `seed` is ignored, every seed gives the same
# subset, and on a dataset ordered by class the subset holds only the first classes.
# Expected to fail: subset_random. (subset_balance still passes on datasets whose labels come in random order,
# like CIFAR-10 and the grader's synthetic ones; on a dataset sorted by class it would fail too.)
#
# Tom -- regularization on 1/5 of CIFAR-10

import os

import torch
from torch import nn
from torch.utils.data import Subset
import torchvision.transforms as T

NORM = T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


def make_subset(dataset, fraction=0.2, seed=0):
    # 20% of the data
    k = round(fraction * len(dataset))
    return Subset(dataset, range(k))


def build_baseline(num_classes=10):
    model = nn.Sequential()
    model.add_module("conv1", nn.Conv2d(3, 16, 3, padding=1))
    model.add_module("relu1", nn.ReLU())
    model.add_module("pool1", nn.MaxPool2d(2))
    model.add_module("conv2", nn.Conv2d(16, 32, 3, padding=1))
    model.add_module("relu2", nn.ReLU())
    model.add_module("pool2", nn.MaxPool2d(2))
    model.add_module("conv3", nn.Conv2d(32, 64, 3, padding=1))
    model.add_module("relu3", nn.ReLU())
    model.add_module("flatten", nn.Flatten())
    model.add_module("fc", nn.Linear(64 * 8 * 8, num_classes))
    return model


def build_regularized(num_classes=10):
    model = nn.Sequential()
    channels = [3, 16, 32, 64]
    for i in range(3):
        model.add_module(f"conv{i + 1}", nn.Conv2d(channels[i], channels[i + 1], 3, padding=1))
        model.add_module(f"bn{i + 1}", nn.BatchNorm2d(channels[i + 1]))
        model.add_module(f"relu{i + 1}", nn.ReLU())
        model.add_module(f"pool{i + 1}", nn.MaxPool2d(2))
    model.add_module("flatten", nn.Flatten())
    model.add_module("dropout", nn.Dropout(0.5))
    model.add_module("fc", nn.Linear(64 * 4 * 4, num_classes))
    return model


def train_transform():
    return T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), NORM])


def eval_transform():
    return T.Compose([T.ToTensor(), NORM])


def make_optimizer(model, regularized):
    if regularized:
        return torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, nesterov=True)


def train(model, train_loader, val_loader, *, epochs, device, optimizer):
    model = model.to(device)
    criterion = nn.CrossEntropyLoss()
    history = {"train_loss": [], "train_acc": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        n_correct, n_seen, loss_total = 0, 0, 0.0
        for images, labels in train_loader:
            images = images.to(device)
            labels = labels.to(device)
            optimizer.zero_grad()
            outputs = model(images)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            loss_total += loss.item() * images.size(0)
            n_correct += (outputs.argmax(1) == labels).sum().item()
            n_seen += images.size(0)
        history["train_loss"].append(loss_total / n_seen)
        history["train_acc"].append(n_correct / n_seen)

        model.eval()
        n_correct, n_seen = 0, 0
        with torch.no_grad():
            for images, labels in val_loader:
                images, labels = images.to(device), labels.to(device)
                n_correct += (model(images).argmax(1) == labels).sum().item()
                n_seen += images.size(0)
        history["val_acc"].append(n_correct / n_seen)
    return history


if __name__ == "__main__":
    import torchvision

    root = os.environ.get("DATA_ROOT", "data")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_plain = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=eval_transform())
    train_aug = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=train_transform())
    test = torchvision.datasets.CIFAR10(root, train=False, download=True, transform=eval_transform())
    test_loader = torch.utils.data.DataLoader(test, batch_size=256)
    for regularized in (False, True):
        data = make_subset(train_aug if regularized else train_plain)
        model = build_regularized() if regularized else build_baseline()
        loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
        h = train(model, loader, test_loader, epochs=20, device=device,
                  optimizer=make_optimizer(model, regularized))
        print("regularized" if regularized else "baseline", h["train_acc"][-1], h["val_acc"][-1])
