"""Reference solution for ``autoencoder_mnist`` (part 1, exercise 1).

"With a three-layer fully connected network, design an autoencoder that reconstructs MNIST handwritten
digits, using PyTorch." Three layers of units: the 784 input pixels, a code of ``code_dim`` units, and
784 output pixels; so two fully connected layers, an encoder and a decoder.

A submission must define:

``Autoencoder(code_dim=32)``
    ``encode(x) -> (N, code_dim)``, ``decode(h) -> (N, 784)``, ``forward(x)`` shaped like ``x``, for ``x``
    of shape (N, 1, 28, 28) or (N, 784) with pixels in [0, 1]. Fully connected layers only.

``train(model, train_loader, *, epochs, device) -> list[float]``
    Trains in place on ``(images, labels)`` batches (labels ignored); returns the mean loss of each epoch.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Autoencoder", "train"]

PIXELS = 28 * 28


class Autoencoder(nn.Module):
    """784 -> code_dim (linear) -> 784 (sigmoid, so reconstructions are pixels in [0, 1]).

    The code is left linear on purpose: the sigmoid on the output is the nonlinearity, and a ReLU on a
    32-unit code loses units that stop firing, which makes training much slower (measured in
    ``docs/assignments.md``).
    """

    def __init__(self, code_dim: int = 32) -> None:
        super().__init__()
        self.encoder = nn.Linear(PIXELS, code_dim)
        self.decoder = nn.Linear(code_dim, PIXELS)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(len(x), PIXELS))

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)


def train(model: nn.Module, train_loader, *, epochs: int, device: str | torch.device) -> list[float]:
    """Adam on the mean squared error between images and reconstructions; mean loss per epoch."""
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for images, _labels in train_loader:
            images = images.to(device)
            loss = nn.functional.mse_loss(model(images), images)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(images)
            count += len(images)
        history.append(total / count)
    return history
