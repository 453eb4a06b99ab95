# MISTAKE (note for TAs): the confusion matrix is transposed - rows are the PREDICTED class and
# columns the TRUE class (cm[pred, true] += 1), while the assignment asks for rows = true class.
# Precision/recall are computed consistently with that layout, so the numbers are right;
# only the matrix itself is the wrong way round. Everything else is meant to be correct.
#
# ResNet-50 on CIFAR-10 - Ned

ANSWER_RESIDUAL = """\
Residual connections add the input to the block's output, y = x + F(x), so dy/dx = 1 + dF/dx.
Backpropagating through many blocks, the "1" keeps the gradient from shrinking to zero, so the
first layers still learn.
"""

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torch.utils.data import Subset


def build_model(num_classes=10, dropout=0.0):
    net = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if dropout > 0:
        # dropout right before the last linear layer
        net.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(net.fc.in_features, num_classes))
    return net


def split_dataset(dataset, val_fraction=0.1, seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    order = torch.randperm(len(dataset), generator=g).tolist()
    n_val = round(val_fraction * len(dataset))
    return Subset(dataset, order[n_val:]), Subset(dataset, order[:n_val])


def compute_metrics(y_true, y_pred, num_classes=10):
    if torch.is_tensor(y_true):
        y_true = y_true.cpu().numpy()
    if torch.is_tensor(y_pred):
        y_pred = y_pred.cpu().numpy()
    y_true = np.asarray(y_true, dtype=int).ravel()
    y_pred = np.asarray(y_pred, dtype=int).ravel()

    cm = np.zeros((num_classes, num_classes), dtype=int)
    for t, p in zip(y_true, y_pred):
        cm[p, t] += 1          # row = prediction, column = truth   <-- transposed

    tp = np.diag(cm)
    pred_count = cm.sum(axis=1)    # rows are predictions in my layout
    true_count = cm.sum(axis=0)
    precision = np.where(pred_count > 0, tp / np.maximum(pred_count, 1), 0.0)
    recall = np.where(true_count > 0, tp / np.maximum(true_count, 1), 0.0)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
        "confusion_matrix": cm.tolist(),
    }


def train(model, train_loader, val_loader, *, epochs, device):
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    hist = {"train_loss": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        losses = []
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            loss = nn.functional.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        hist["train_loss"].append(sum(losses) / len(losses))

        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, labels in val_loader:
                preds = model(images.to(device)).argmax(1).cpu()
                correct += (preds == labels).sum().item()
                total += len(labels)
        hist["val_acc"].append(correct / max(total, 1))
        print(f"epoch {epoch + 1}: loss {hist['train_loss'][-1]:.3f}, val acc {hist['val_acc'][-1]:.3f}")
    return hist
