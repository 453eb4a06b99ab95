# Autoencoder for MNIST (three-layer fully connected net: 784 -> code -> 784)
# Ben
#
# I split the network into an encoder and a decoder (two nn.Sequentials) so I
# can use them on their own later (e.g. to look at the codes). Since the
# pixels are in [0, 1] and the decoder ends with a sigmoid, I treat every pixel
# as a Bernoulli probability and train with binary cross-entropy instead of
# MSE: the reconstructions looked a bit sharper to me that way.
# The code uses a LeakyReLU: with a plain ReLU about a third of my 32 code
# units went dead after the first epoch and the loss plateaued.

import os

import torch
import torch.nn as nn

IMAGE_PIXELS = 28 * 28


class Autoencoder(nn.Module):
    def __init__(self, code_dim=32):
        super().__init__()
        self.code_dim = code_dim
        # layer 1 -> 2: input (784) to the code
        self.encoder = nn.Sequential(
            nn.Linear(IMAGE_PIXELS, code_dim),
            nn.LeakyReLU(0.1),
        )
        # layer 2 -> 3: code back to 784 pixels, squashed into [0, 1]
        self.decoder = nn.Sequential(
            nn.Linear(code_dim, IMAGE_PIXELS),
            nn.Sigmoid(),
        )

    def encode(self, x):
        # works for (N, 1, 28, 28) and (N, 784)
        return self.encoder(x.flatten(1))

    def decode(self, h):
        return self.decoder(h)

    def forward(self, x):
        out = self.decode(self.encode(x))
        return out.view_as(x)  # same shape as the input


def train(model, train_loader, *, epochs, device):
    model = model.to(device)
    criterion = nn.BCELoss()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)

    history = []
    for epoch in range(epochs):
        model.train()
        running, seen = 0.0, 0
        for x, _labels in train_loader:  # labels are not needed for an autoencoder
            x = x.to(device)
            x_hat = model(x)
            loss = criterion(x_hat, x)

            opt.zero_grad()
            loss.backward()
            opt.step()

            # the last batch can be smaller, so weight by the batch size
            running += loss.item() * x.size(0)
            seen += x.size(0)
        history.append(running / seen)
    return history


if __name__ == "__main__":
    import torchvision
    import torchvision.transforms as T

    data_root = os.environ.get("DATA_ROOT", "data")
    device = os.environ.get("DEVICE", "cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(int(os.environ.get("SEED", 0)))

    train_set = torchvision.datasets.MNIST(data_root, train=True, download=True, transform=T.ToTensor())
    test_set = torchvision.datasets.MNIST(data_root, train=False, download=True, transform=T.ToTensor())
    loader = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True)

    ae = Autoencoder(code_dim=32)
    print(ae)
    print("params:", sum(p.numel() for p in ae.parameters()))
    losses = train(ae, loader, epochs=10, device=device)
    for i, l in enumerate(losses, 1):
        print(f"epoch {i:2d}  BCE {l:.4f}")

    ae.eval()
    with torch.no_grad():
        x = torch.stack([test_set[i][0] for i in range(10)]).to(device)
        x_hat = ae(x).cpu()
        print("test MSE on 10 digits:", torch.mean((x_hat - x.cpu()) ** 2).item())

    try:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 10, figsize=(10, 2))
        for i in range(10):
            axes[0, i].imshow(x[i, 0].cpu(), cmap="gray")
            axes[1, i].imshow(x_hat[i, 0], cmap="gray")
            axes[0, i].axis("off")
            axes[1, i].axis("off")
        plt.savefig("ben_reconstructions.png")
    except ImportError:
        pass
