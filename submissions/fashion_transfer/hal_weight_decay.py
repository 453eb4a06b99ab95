# Fashion-MNIST transfer learning - Hal
#
# Small CNN: two conv layers + one hidden linear layer as the backbone and a
# linear head. For the head-only experiment I freeze the backbone by zeroing
# its gradients with hooks: that way every experiment can use the exact same
# optimizer setup (make_optimizer) and I don't have to filter parameters.
# AdamW with some weight decay because the course notes said weight decay
# helps when fine-tuning on a small dataset.

import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class FashionCNN(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),                 # 14x14
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),                 # 7x7
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(),
        )
        self.head = nn.Linear(64, num_classes)

    def forward(self, x):
        feats = self.backbone(x)
        return self.head(feats)


def build_model(num_classes):
    return FashionCNN(num_classes)


def train(model, train_loader, *, epochs, device, optimizer=None):
    model.to(device)
    if optimizer is None:
        optimizer = make_optimizer(model)
    losses = []
    for epoch in range(epochs):
        model.train()
        running, count = 0.0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
            count += 1
        losses.append(running / count)
        print(f"epoch {epoch + 1}/{epochs}  loss {losses[-1]:.4f}")
    return losses


def load_pretrained(path):
    model = build_model(6)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


def replace_head(model, num_classes=10):
    in_features = model.head.in_features
    model.head = nn.Linear(in_features, num_classes)
    return model


def freeze_backbone(model):
    # zero out the gradient of every backbone parameter, so backprop still
    # reaches the head but the backbone never gets an update
    for p in model.backbone.parameters():
        p.register_hook(lambda grad: grad * 0)
    return model


def make_optimizer(model):
    return torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)


if __name__ == "__main__":
    from torchvision import datasets, transforms

    DATA_ROOT = os.environ.get("DATA_ROOT", "data")
    DEVICE = os.environ.get("DEVICE", "cpu")

    mnist_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    mnist = datasets.MNIST(DATA_ROOT, train=True, download=True, transform=mnist_tf)
    idx = [i for i, y in enumerate(mnist.targets.tolist()) if y < 6]
    src_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(mnist, idx), batch_size=64, shuffle=True)
    src = build_model(6)
    train(src, src_loader, epochs=2, device=DEVICE)
    torch.save(src.state_dict(), "mnist_0to5.pt")

    fashion_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.286,), (0.353,))])
    ftrain = datasets.FashionMNIST(DATA_ROOT, train=True, download=True, transform=fashion_tf)
    ftest = datasets.FashionMNIST(DATA_ROOT, train=False, download=True, transform=fashion_tf)
    loader = torch.utils.data.DataLoader(ftrain, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(ftest, batch_size=1000)

    def test_acc(model):
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test_loader:
                correct += (model(x.to(DEVICE)).argmax(1).cpu() == y).sum().item()
        return correct / len(ftest)

    a = build_model(10)
    train(a, loader, epochs=3, device=DEVICE)
    b = replace_head(load_pretrained("mnist_0to5.pt"))
    train(b, loader, epochs=3, device=DEVICE)
    c = freeze_backbone(replace_head(load_pretrained("mnist_0to5.pt")))
    train(c, loader, epochs=3, device=DEVICE)
    print("scratch", test_acc(a), "finetune", test_acc(b), "head only", test_acc(c))
