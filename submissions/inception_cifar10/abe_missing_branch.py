# Planted mistake (example submission): the pool branch (3x3 max-pool -> 1x1 conv) is computed in forward but
# left out of the torch.cat, so the module outputs ch1x1 + ch3x3 + ch5x5 channels instead of
# ch1x1 + ch3x3 + ch5x5 + pool_proj, and the pool branch's weights never get a gradient. build_model sizes its
# later layers with the same (wrong) count, so the network itself still runs. Everything else is correct.
#
# CIFAR-10 with an Inception module (HW3, question 7) -- Abe

import torch
from torch import nn
import torch.nn.functional as F


class BasicConv(nn.Module):
    def __init__(self, in_ch, out_ch, k, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, k, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionModule(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj):
        super().__init__()
        self.out_channels = ch1x1 + ch3x3 + ch5x5
        self.b1 = BasicConv(in_channels, ch1x1, 1)
        self.b2 = nn.Sequential(BasicConv(in_channels, ch3x3_reduce, 1),
                                BasicConv(ch3x3_reduce, ch3x3, 3, padding=1))
        self.b3 = nn.Sequential(BasicConv(in_channels, ch5x5_reduce, 1),
                                BasicConv(ch5x5_reduce, ch5x5, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                BasicConv(in_channels, pool_proj, 1))

    def forward(self, x):
        out1 = self.b1(x)
        out2 = self.b2(x)
        out3 = self.b3(x)
        out4 = self.b4(x)
        return torch.cat([out1, out2, out3], dim=1)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


class InceptionCIFAR(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = BasicConv(3, 32, 3, padding=1)
        self.inc1 = InceptionModule(32, 16, 32, 48, 8, 16, 16)
        self.inc2 = InceptionModule(self.inc1.out_channels, 32, 48, 64, 8, 24, 24)
        self.inc3 = InceptionModule(self.inc2.out_channels, 96, 80, 128, 16, 48, 48)
        self.fc = nn.Linear(self.inc3.out_channels, num_classes)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 2)       # 16x16
        x = self.inc2(self.inc1(x))
        x = F.max_pool2d(x, 2)                   # 8x8
        x = self.inc3(x)
        x = x.mean(dim=(2, 3))                   # global average pool
        return self.fc(x)


def build_model(num_classes=10):
    return InceptionCIFAR(num_classes)


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train_loader))
    history = {"train_loss": [], "train_acc": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        loss_sum, correct, n = 0.0, 0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            n += len(y)
        history["train_loss"].append(loss_sum / n)
        history["train_acc"].append(correct / n)

        model.eval()
        val_correct, val_n = 0, 0
        with torch.no_grad():
            for x, y in (val_loader or []):
                x, y = x.to(device), y.to(device)
                val_correct += (model(x).argmax(1) == y).sum().item()
                val_n += len(y)
        history["val_acc"].append(val_correct / val_n if val_n else float("nan"))
    return history
