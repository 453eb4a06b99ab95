"""Fashion-MNIST: training from scratch vs. transfer from MNIST 0-5.   (Ivy)

Model = backbone (2 conv layers + 1 linear layer) + a linear head.
The pretrained model has 6 outputs (digits 0-5), Fashion-MNIST needs 10,
so the head has to be swapped before fine-tuning.
"""

import os

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(),
        )
        self.head = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def build_model(num_classes):
    return Net(num_classes)


def make_optimizer(model):
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=1e-3)


def train(model, train_loader, *, epochs, device, optimizer=None):
    model = model.to(device)
    if optimizer is None:
        optimizer = make_optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    epoch_losses = []
    for epoch in range(epochs):
        model.train()
        batch_losses = []
        for x, y in train_loader:
            x = x.to(device)
            y = y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        epoch_losses.append(sum(batch_losses) / len(batch_losses))
    return epoch_losses


def load_pretrained(path):
    model = build_model(6)
    weights = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(weights)
    return model


def replace_head(model, num_classes=10):
    # the backbone architecture is identical for 6 and 10 classes, only the
    # last layer is different, so just build the 10-class version of the net
    new_model = build_model(num_classes)
    return new_model


def freeze_backbone(model):
    for param in model.backbone.parameters():
        param.requires_grad = False
    return model


if __name__ == "__main__":
    import torchvision
    import torchvision.transforms as transforms

    root = os.environ.get("DATA_ROOT", "data")
    device = os.environ.get("DEVICE", "cpu")

    to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    mnist = torchvision.datasets.MNIST(root, train=True, download=True, transform=to_tensor)
    mask = mnist.targets < 6
    mnist.data, mnist.targets = mnist.data[mask], mnist.targets[mask]
    pre = build_model(6)
    train(pre, torch.utils.data.DataLoader(mnist, batch_size=128, shuffle=True), epochs=2, device=device)
    torch.save(pre.state_dict(), "pretrained_mnist6.pt")

    fashion = torchvision.datasets.FashionMNIST(root, train=True, download=True, transform=to_tensor)
    loader = torch.utils.data.DataLoader(fashion, batch_size=128, shuffle=True)
    results = {}
    results["scratch"] = train(build_model(10), loader, epochs=3, device=device)
    results["finetune_all"] = train(replace_head(load_pretrained("pretrained_mnist6.pt")), loader, epochs=3, device=device)
    frozen = freeze_backbone(replace_head(load_pretrained("pretrained_mnist6.pt")))
    results["head_only"] = train(frozen, loader, epochs=3, device=device)
    for k, v in results.items():
        print(k, [round(l, 4) for l in v])
