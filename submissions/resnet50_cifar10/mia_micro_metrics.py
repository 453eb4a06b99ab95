# MISTAKE (note for TAs): compute_metrics uses MICRO averaging - it pools the true/false positives
# of all classes before dividing - instead of macro averaging (score per class, then the mean).
# With single-label predictions micro precision = micro recall = micro F1 = accuracy.
# Everything else is meant to be correct.
#
# ResNet-50 on CIFAR-10 - Mia
# torchvision's resnet50 (ImageNet stem), 10-class head, optional dropout before it.

ANSWER_RESIDUAL = """\
With a shortcut, a block outputs x + F(x), so the derivative w.r.t. x is I + dF/dx. The identity
term lets the gradient flow straight back to the early layers even when dF/dx is small, instead of
being multiplied by many small Jacobians and vanishing.
"""

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
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(dataset, perm[n_val:]), Subset(dataset, perm[:n_val])


def compute_metrics(y_true, y_pred, num_classes=10):
    y_true = torch.as_tensor(y_true).long().cpu().flatten()
    y_pred = torch.as_tensor(y_pred).long().cpu().flatten()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        cm[t, p] += 1                               # rows = true, columns = predicted

    tp = cm.diag()
    fp = cm.sum(dim=0) - tp                         # predicted as c but not c
    fn = cm.sum(dim=1) - tp                         # c but predicted as something else
    # "overall" precision/recall over all classes at once   <-- the micro-average mistake
    precision = tp.sum().item() / max((tp.sum() + fp.sum()).item(), 1)
    recall = tp.sum().item() / max((tp.sum() + fn.sum()).item(), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    accuracy = tp.sum().item() / max(len(y_true), 1)
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1,
            "confusion_matrix": cm.tolist()}


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        total, n = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            n += len(y)
        history["train_loss"].append(total / n)

        model.eval()
        total, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                out = model(x)
                total += criterion(out, y).item() * len(y)
                correct += (out.argmax(1) == y).sum().item()
                n += len(y)
        history["val_loss"].append(total / max(n, 1))
        history["val_acc"].append(correct / max(n, 1))
    return history
