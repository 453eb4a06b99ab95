# Transfer learning: MNIST digits 0-5  ->  Fashion-MNIST
# Gus
#
# Backbone: two conv-BN-ReLU-maxpool blocks, then adaptive average pooling
# to a fixed 3x3 grid, so the feature size (32*3*3 = 288) doesn't depend on
# the image size and the model stays tiny (~8k parameters). BatchNorm lets me
# use plain SGD with a big learning rate.
#
# (a) scratch:       build_model(10), train everything
# (b) fine-tune all: load_pretrained -> replace_head -> train everything
# (c) head only:     load_pretrained -> replace_head -> freeze_backbone -> train

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

CHANNELS = 32
POOLED = 3
FEATURES = CHANNELS * POOLED * POOLED  # 288


def conv_block(c_in, c_out):
    layers = [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),  # BN has its own bias
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    ]
    return layers


class SmallNet(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.backbone = nn.Sequential(
            *conv_block(1, 16),             # 28 -> 14
            *conv_block(16, CHANNELS),      # 14 -> 7
            nn.AdaptiveAvgPool2d(POOLED),   # 7x7 -> 3x3
            nn.Flatten(),                   # (N, 288)
        )
        self.head = nn.Linear(FEATURES, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def build_model(num_classes):
    return SmallNet(num_classes)


def make_optimizer(model):
    trainable = filter(lambda p: p.requires_grad, model.parameters())
    return torch.optim.SGD(trainable, lr=0.05, momentum=0.9)


def train(model, train_loader, *, epochs, device, optimizer=None):
    model.to(device)
    if optimizer is None:
        optimizer = make_optimizer(model)

    # if the backbone is frozen, also keep its BatchNorm statistics fixed,
    # otherwise the "frozen" features would still drift during training
    backbone_frozen = not any(p.requires_grad for p in model.backbone.parameters())

    history = []
    for epoch in range(epochs):
        model.train()
        if backbone_frozen:
            model.backbone.eval()
        total_loss, total_n = 0.0, 0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(xb)
            total_n += len(xb)
        history.append(total_loss / total_n)
    return history


def load_pretrained(path):
    model = build_model(6)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model


def replace_head(model, num_classes=10):
    old = model.head
    model.head = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    return model


def freeze_backbone(model):
    model.backbone.requires_grad_(False)
    return model


# ---------------------------------------------------------------------------
# experiment (not run on import)
# ---------------------------------------------------------------------------

@torch.no_grad()
def accuracy(model, loader, device):
    model.eval()
    correct = total = 0
    for xb, yb in loader:
        pred = model(xb.to(device)).argmax(1).cpu()
        correct += (pred == yb).sum().item()
        total += len(yb)
    return correct / total


if __name__ == "__main__":
    import torchvision
    import torchvision.transforms as T

    root = os.environ.get("DATA_ROOT", "data")
    device = os.environ.get("DEVICE", "cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(int(os.environ.get("SEED", 0)))

    # source task: MNIST digits 0-5
    tf_mnist = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    mnist = torchvision.datasets.MNIST(root, train=True, download=True, transform=tf_mnist)
    keep = torch.nonzero(mnist.targets <= 5).squeeze(1)
    mnist_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(mnist, keep), batch_size=128, shuffle=True)
    source = build_model(6)
    print("source model:", train(source, mnist_loader, epochs=2, device=device))
    torch.save(source.state_dict(), "gus_mnist06.pt")

    # target task: Fashion-MNIST
    tf_fashion = T.Compose([T.ToTensor(), T.Normalize((0.2860,), (0.3530,))])
    f_train = torchvision.datasets.FashionMNIST(root, train=True, download=True, transform=tf_fashion)
    f_test = torchvision.datasets.FashionMNIST(root, train=False, download=True, transform=tf_fashion)
    train_loader = torch.utils.data.DataLoader(f_train, batch_size=128, shuffle=True)
    test_loader = torch.utils.data.DataLoader(f_test, batch_size=512)

    variants = {
        "scratch": build_model(10),
        "fine-tune all": replace_head(load_pretrained("gus_mnist06.pt"), 10),
        "head only": freeze_backbone(replace_head(load_pretrained("gus_mnist06.pt"), 10)),
    }
    for name, model in variants.items():
        losses = train(model, train_loader, epochs=3, device=device)
        print(f"{name:14s} losses {[round(l, 3) for l in losses]}  test acc {accuracy(model, test_loader, device):.3f}")
