# MISTAKE (note for TAs): split_dataset draws the validation indices and the training indices
# with two SEPARATE torch.randperm calls (the generator has moved on between them), so the two
# parts are not complementary: some validation images are also in the training set (leakage)
# and some images are in neither. Sizes and seeding are right. Everything else is meant to be
# correct.
#
# ResNet-50 on CIFAR-10 - Oli

ANSWER_RESIDUAL = """\
Because of the skip connection the output of a block is x + F(x), so in backprop the gradient
of the block's input is the output gradient times (I + dF/dx): it always gets the output gradient
itself through the identity path, so it does not vanish even if the layers' own gradients are tiny.
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
    gen = torch.Generator().manual_seed(seed)
    val_indices = torch.randperm(n, generator=gen)[:n_val]       # random validation images
    train_indices = torch.randperm(n, generator=gen)[n_val:]     # <-- a NEW permutation: leaks
    return Subset(dataset, train_indices.tolist()), Subset(dataset, val_indices.tolist())


def compute_metrics(y_true, y_pred, num_classes=10):
    y_true = torch.as_tensor(y_true).long().cpu().view(-1)
    y_pred = torch.as_tensor(y_pred).long().cpu().view(-1)
    cm = torch.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    cm = cm.view(num_classes, num_classes)          # rows = true, columns = predicted
    tp = cm.diag().double()
    prec = torch.nan_to_num(tp / cm.sum(0).double(), nan=0.0)    # 0/0 -> 0
    rec = torch.nan_to_num(tp / cm.sum(1).double(), nan=0.0)
    f1 = torch.nan_to_num(2 * prec * rec / (prec + rec), nan=0.0)
    return {"accuracy": (tp.sum() / max(len(y_true), 1)).item(),
            "precision": prec.mean().item(), "recall": rec.mean().item(), "f1": f1.mean().item(),
            "confusion_matrix": cm.tolist()}


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        epoch_loss = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
        history["train_loss"].append(epoch_loss / len(train_loader))

        model.eval()
        val_loss, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                logits = model(x)
                val_loss += loss_fn(logits, y).item() * y.numel()
                correct += (logits.argmax(1) == y).sum().item()
                count += y.numel()
        history["val_loss"].append(val_loss / max(count, 1))
        history["val_acc"].append(correct / max(count, 1))
    return history
