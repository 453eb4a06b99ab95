# Regularization on a fifth of CIFAR-10 -- Sam
#
# Baseline: conv(16) -> pool -> conv(32) -> pool -> conv(64), then a single
# linear layer on the 64*8*8 feature map. Nothing in it fights overfitting.
# Regularized: the same convs with BatchNorm2d, channel dropout (Dropout2d)
# and average pooling instead of the last flatten-everything step, trained on
# randomly cropped / flipped images with AdamW weight decay.
#
# Careful: AdamW has weight_decay=0.01 by DEFAULT, so the baseline passes 0.0
# explicitly (otherwise it would be regularized too).

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.transforms import v2

MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------

def make_subset(dataset, fraction=0.2, seed=0):
    rng = np.random.default_rng(seed)
    size = round(fraction * len(dataset))
    picked = rng.choice(len(dataset), size=size, replace=False)
    return torch.utils.data.Subset(dataset, picked.tolist())


def train_transform():
    return v2.Compose([
        v2.ToImage(),                               # PIL -> uint8 tensor image
        v2.RandomCrop(32, padding=4, padding_mode="reflect"),
        v2.RandomHorizontalFlip(p=0.5),
        v2.ToDtype(torch.float32, scale=True),      # [0, 255] -> [0, 1]
        v2.Normalize(MEAN, STD),
        v2.ToPureTensor(),
    ])


def eval_transform():
    return v2.Compose([
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(MEAN, STD),
        v2.ToPureTensor(),
    ])


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------

class PlainCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 8 * 8, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # 16x16
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # 8x8
        x = F.relu(self.conv3(x))
        return self.fc(torch.flatten(x, 1))


class RegularizedCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.AvgPool2d(2),                                   # 16x16
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.AvgPool2d(2),                                   # 8x8
            nn.Dropout2d(0.1),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.AvgPool2d(2),                                   # 4x4
            nn.Dropout2d(0.25),
        )
        self.fc = nn.Linear(64 * 4 * 4, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def build_baseline(num_classes=10):
    return PlainCNN(num_classes)


def build_regularized(num_classes=10):
    return RegularizedCNN(num_classes)


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------

def make_optimizer(model, regularized):
    decay = 0.05 if regularized else 0.0   # AdamW default would be 0.01!
    return torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=decay)


@torch.no_grad()
def accuracy(model, loader, device):
    model.eval()
    hits = seen = 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        hits += (model(xb).argmax(1) == yb).sum().item()
        seen += len(yb)
    return hits / seen


def train(model, train_loader, val_loader, *, epochs, device, optimizer):
    model.to(device)
    history = {"train_acc": [], "val_acc": [], "loss": []}
    for _ in range(epochs):
        model.train()
        hits = seen = 0
        running = 0.0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            hits += (out.argmax(1) == yb).sum().item()
            seen += len(yb)
            running += loss.item() * len(yb)
        history["train_acc"].append(hits / seen)
        history["loss"].append(running / seen)
        history["val_acc"].append(accuracy(model, val_loader, device))
    return history


# ---------------------------------------------------------------------------
# experiment (not run on import)
# ---------------------------------------------------------------------------

if __name__ == "__main__":
    import torchvision

    root = os.environ.get("DATA_ROOT", "data")
    device = os.environ.get("DEVICE", "cuda" if torch.cuda.is_available() else "cpu")
    seed = int(os.environ.get("SEED", 0))
    torch.manual_seed(seed)

    # hold out 5000 training images for validation, take 1/5 of the remaining ones
    plain = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=eval_transform())
    augmented = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=train_transform())
    order = np.random.default_rng(1234).permutation(len(plain))
    val_idx, rest = order[:5000].tolist(), order[5000:].tolist()
    pick = make_subset(rest, 0.2, seed=seed).indices
    train_idx = [rest[i] for i in pick]
    val_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(plain, val_idx), batch_size=256)

    for name, build, data, reg in [("baseline", build_baseline, plain, False),
                                   ("regularized", build_regularized, augmented, True)]:
        model = build(10)
        loader = torch.utils.data.DataLoader(torch.utils.data.Subset(data, train_idx), batch_size=64, shuffle=True)
        hist = train(model, loader, val_loader, epochs=20, device=device, optimizer=make_optimizer(model, reg))
        print(f"{name:11s} train {hist['train_acc'][-1]:.3f}  val {hist['val_acc'][-1]:.3f}  "
              f"gap {hist['train_acc'][-1] - hist['val_acc'][-1]:.3f}")
