# Assignment: MNIST autoencoder with a three-layer fully connected network
# Eve
#
# Architecture: 784 -> code_dim (ReLU) -> 784.
# The PyTorch docs say BCEWithLogitsLoss is more numerically stable than a
# Sigmoid followed by BCELoss (it uses the log-sum-exp trick), so the decoder
# just outputs logits and the loss takes care of the sigmoid. Training loss
# goes down nicely (~0.10 after a few epochs).

import os

import torch
from torch import nn


class Autoencoder(nn.Module):
    def __init__(self, code_dim=32):
        super().__init__()
        self.code_dim = code_dim
        self.enc = nn.Linear(28 * 28, code_dim)
        self.dec = nn.Linear(code_dim, 28 * 28)
        self.act = nn.ReLU()

    def encode(self, x):
        return self.act(self.enc(x.reshape(len(x), -1)))

    def decode(self, h):
        # no sigmoid here: BCEWithLogitsLoss applies it (more stable)
        return self.dec(h)

    def forward(self, x):
        return self.decode(self.encode(x)).reshape(x.shape)


def train(model, train_loader, *, epochs, device):
    model = model.to(device)
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(epochs):
        model.train()
        epoch_loss, n_batches = 0.0, 0
        for x, _ in train_loader:
            x = x.to(device)
            logits = model(x)
            loss = criterion(logits, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
            n_batches += 1
        losses.append(epoch_loss / n_batches)
    return losses


if __name__ == "__main__":
    import torchvision
    from torchvision import transforms

    data_root = os.environ.get("DATA_ROOT", "data")
    device = os.environ.get("DEVICE", "cpu")
    torch.manual_seed(0)
    ds = torchvision.datasets.MNIST(data_root, train=True, download=True, transform=transforms.ToTensor())
    dl = torch.utils.data.DataLoader(ds, batch_size=100, shuffle=True)
    ae = Autoencoder(32)
    print(train(ae, dl, epochs=5, device=device))
