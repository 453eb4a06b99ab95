# MISTAKE (note for TAs): split_dataset ignores its `seed` argument - torch.randperm is called
# without a generator, so it uses the global RNG and the split changes from call to call (and
# is not reproducible for a given seed). Everything else is meant to be correct.
#
# ResNet-50 on CIFAR-10 - Quinn

ANSWER_RESIDUAL = """\
The skip connection gives the gradient a direct path: out = x + F(x) means d out/dx = I + dF/dx,
so even if dF/dx is tiny the gradient still gets through to earlier layers and does not vanish.
"""

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torch.utils.data import Subset


def build_model(num_classes=10, dropout=0.0):
    model = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if dropout > 0:
        model.fc = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(2048, num_classes))
    return model


def split_dataset(dataset, val_fraction=0.1, seed=0):
    n = len(dataset)
    n_val = round(val_fraction * n)
    shuffled = torch.randperm(n).tolist()           # <-- seed never used
    return Subset(dataset, shuffled[n_val:]), Subset(dataset, shuffled[:n_val])


def compute_metrics(y_true, y_pred, num_classes=10):
    to_np = lambda a: a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)
    y_true, y_pred = to_np(y_true).astype(int).ravel(), to_np(y_pred).astype(int).ravel()
    cm = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)              # rows = true, columns = predicted
    tp = np.diag(cm).astype(float)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / (tp + fp))
        recall = np.nan_to_num(tp / (tp + fn))
        f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
    return {"accuracy": float(tp.sum() / max(len(y_true), 1)), "precision": float(precision.mean()),
            "recall": float(recall.mean()), "f1": float(f1.mean()), "confusion_matrix": cm.tolist()}


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        running, steps = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()
            steps += 1
        history["train_loss"].append(running / max(steps, 1))

        model.eval()
        loss_sum, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                out = model(x)
                loss_sum += criterion(out, y).item() * len(y)
                correct += (out.argmax(1) == y).sum().item()
                n += len(y)
        history["val_loss"].append(loss_sum / max(n, 1))
        history["val_acc"].append(correct / max(n, 1))
    return history
