# MISTAKE (note for TAs): the dropout head calls F.dropout(x, self.p, training=True), so dropout
# is applied in eval mode too (it should be training=self.training, or an nn.Dropout module):
# predictions of the dropout model are random at test time and its accuracy suffers.
# Everything else is meant to be correct.
#
# ResNet-50 on CIFAR-10 - Pat

ANSWER_RESIDUAL = """\
In a residual block y = x + F(x), so dy/dx = I + dF/dx: the gradient is passed back through the
identity shortcut without being multiplied by the layer weights, so it does not vanish over many
layers, and a block that is not useful can just learn F = 0.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch.utils.data import Subset


class DropoutHead(nn.Module):
    """Dropout then the linear classifier (exercise 5)."""

    def __init__(self, in_features, num_classes, p):
        super().__init__()
        self.p = p
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        x = F.dropout(x, self.p, training=True)     # <-- always on, even after model.eval()
        return self.linear(x)


def build_model(num_classes=10, dropout=0.0):
    model = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if dropout > 0:
        model.fc = DropoutHead(model.fc.in_features, num_classes, dropout)
    return model


def split_dataset(dataset, val_fraction=0.1, seed=0):
    n_val = round(val_fraction * len(dataset))
    perm = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(dataset, perm[n_val:]), Subset(dataset, perm[:n_val])


def compute_metrics(y_true, y_pred, num_classes=10):
    y_true = torch.as_tensor(y_true).long().cpu().flatten()
    y_pred = torch.as_tensor(y_pred).long().cpu().flatten()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    cm.index_put_((y_true, y_pred), torch.ones_like(y_true), accumulate=True)  # rows true, cols pred
    tp = cm.diag().double()
    n_pred, n_true = cm.sum(0).double(), cm.sum(1).double()
    precision = torch.where(n_pred > 0, tp / n_pred, torch.zeros_like(tp))
    recall = torch.where(n_true > 0, tp / n_true, torch.zeros_like(tp))
    s = precision + recall
    f1 = torch.where(s > 0, 2 * precision * recall / s, torch.zeros_like(tp))
    return {"accuracy": tp.sum().item() / max(len(y_true), 1), "precision": precision.mean().item(),
            "recall": recall.mean().item(), "f1": f1.mean().item(), "confusion_matrix": cm.tolist()}


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = {"train_loss": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
        history["train_loss"].append(total / len(train_loader))

        model.eval()
        correct = seen = 0
        with torch.no_grad():
            for images, labels in val_loader:
                correct += (model(images.to(device)).argmax(1) == labels.to(device)).sum().item()
                seen += len(labels)
        history["val_acc"].append(correct / max(seen, 1))
    return history
