# MNIST autoencoder - Cleo
#
# I read that convolutional autoencoders reconstruct images a lot better than
# plain MLPs (they know which pixels are neighbours), so my encoder is two
# strided convolutions followed by a linear layer down to the code, and the
# decoder mirrors it with transposed convolutions. The code is still a
# code_dim vector, so encode/decode/forward have the shapes asked for.

import os

import torch
import torch.nn as nn


class Autoencoder(nn.Module):
    def __init__(self, code_dim=32):
        super().__init__()
        self.code_dim = code_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),   # 28 -> 14
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1),  # 14 -> 7
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, code_dim),
            nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.Linear(code_dim, 32 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, kernel_size=3, stride=2, padding=1, output_padding=1),  # 7 -> 14
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, kernel_size=3, stride=2, padding=1, output_padding=1),   # 14 -> 28
            nn.Sigmoid(),
        )

    def encode(self, x):
        # the convs need image-shaped input, so reshape flat vectors first
        x = x.reshape(-1, 1, 28, 28)
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h).flatten(1)  # (N, 784)

    def forward(self, x):
        return self.decode(self.encode(x)).reshape(x.shape)


def train(model, train_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    losses = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        batches = 0
        for images, _ in train_loader:
            images = images.to(device)
            loss = loss_fn(model(images), images)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
        losses.append(total / batches)
        print(f"epoch {epoch + 1}: loss {losses[-1]:.4f}")
    return losses


if __name__ == "__main__":
    import torchvision
    import torchvision.transforms as T

    DATA_ROOT = os.environ.get("DATA_ROOT", "data")
    DEVICE = os.environ.get("DEVICE", "cpu")

    mnist = torchvision.datasets.MNIST(DATA_ROOT, train=True, download=True, transform=T.ToTensor())
    loader = torch.utils.data.DataLoader(mnist, batch_size=64, shuffle=True)
    model = Autoencoder()
    print(sum(p.numel() for p in model.parameters()), "parameters")
    train(model, loader, epochs=5, device=DEVICE)
    torch.save(model.state_dict(), "cleo_ae.pt")
