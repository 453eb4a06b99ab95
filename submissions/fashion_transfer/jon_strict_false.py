# Transfer learning on Fashion-MNIST
# Jon
#
# backbone: conv(1->16) conv(16->32) + fc(1568->64), head: fc(64->classes)
# The checkpoint loading code is adapted from the PyTorch "saving and loading
# a general checkpoint" tutorial. strict=False so it doesn't crash when the
# head size differs (6 vs 10 classes).

import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 64)
        self.out_features = 64

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return F.relu(self.fc(x))


class Classifier(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Linear(self.backbone.out_features, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def build_model(num_classes):
    return Classifier(num_classes)


def load_pretrained(path):
    model = build_model(6)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt.get("model_state_dict", {}), strict=False)
    return model


def replace_head(model, num_classes=10):
    model.head = nn.Linear(model.head.in_features, num_classes)
    return model


def freeze_backbone(model):
    for p in model.backbone.parameters():
        p.requires_grad = False
    return model


def make_optimizer(model):
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)


def train(model, train_loader, *, epochs, device, optimizer=None):
    model.to(device)
    opt = optimizer if optimizer is not None else make_optimizer(model)
    history = []
    for ep in range(epochs):
        model.train()
        loss_sum, n = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * x.shape[0]
            n += x.shape[0]
        history.append(loss_sum / n)
    return history


if __name__ == "__main__":
    from torchvision import datasets, transforms

    root = os.environ.get("DATA_ROOT", "data")
    device = os.environ.get("DEVICE", "cpu")
    torch.manual_seed(0)

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    mnist = datasets.MNIST(root, train=True, download=True, transform=tf)
    sub = torch.utils.data.Subset(mnist, torch.where(mnist.targets < 6)[0])
    m6 = build_model(6)
    train(m6, torch.utils.data.DataLoader(sub, batch_size=128, shuffle=True), epochs=2, device=device)
    torch.save(m6.state_dict(), "jon_mnist6.pt")

    tf_f = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    fm = datasets.FashionMNIST(root, train=True, download=True, transform=tf_f)
    dl = torch.utils.data.DataLoader(fm, batch_size=128, shuffle=True)
    for name, model in [
        ("scratch", build_model(10)),
        ("finetune", replace_head(load_pretrained("jon_mnist6.pt"))),
        ("head only", freeze_backbone(replace_head(load_pretrained("jon_mnist6.pt")))),
    ]:
        print(name, train(model, dl, epochs=3, device=device))
