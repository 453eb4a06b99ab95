"""HW3 Q7 - Inception network for CIFAR-10.   (Yan)

Inception module as in GoogLeNet, except that the 5x5 branch uses two stacked
3x3 convolutions (same 5x5 receptive field, fewer weights; the trick from
Inception v2/v3). Every conv is followed by batch norm and a ReLU.

Network: stem conv (32x32) -> maxpool -> inception (16x16) -> maxpool ->
two inceptions (8x8) -> global average pool -> dropout -> linear.
Trained with Adam and a cosine learning-rate decay (stepped every batch).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBN(nn.Module):
    """conv -> batch norm -> relu ("same" padding for odd kernels)"""

    def __init__(self, c_in, c_out, k):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj):
        super().__init__()
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        # branch 1: 1x1
        self.b1 = ConvBN(in_channels, ch1x1, 1)
        # branch 2: 1x1 reduce -> 3x3
        self.b2_reduce = ConvBN(in_channels, ch3x3_reduce, 1)
        self.b2_conv = ConvBN(ch3x3_reduce, ch3x3, 3)
        # branch 3: 1x1 reduce -> 3x3 -> 3x3  (= 5x5 receptive field)
        self.b3_reduce = ConvBN(in_channels, ch5x5_reduce, 1)
        self.b3_conv_a = ConvBN(ch5x5_reduce, ch5x5_reduce, 3)
        self.b3_conv_b = ConvBN(ch5x5_reduce, ch5x5, 3)
        # branch 4: 3x3 max pool (stride 1) -> 1x1 projection
        self.b4_proj = ConvBN(in_channels, pool_proj, 1)

    def forward(self, x):
        y1 = self.b1(x)
        y2 = self.b2_conv(self.b2_reduce(x))
        y3 = self.b3_conv_b(self.b3_conv_a(self.b3_reduce(x)))
        y4 = self.b4_proj(F.max_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([y1, y2, y3, y4], dim=1)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    # the kernel covers dilation*(k-1)+1 pixels; count how many positions it fits in
    span = dilation * (kernel_size - 1) + 1
    return int(math.floor((size + 2 * padding - span) / stride)) + 1


class YanNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = ConvBN(3, 48, 3)
        self.inc_a = InceptionModule(48, 32, 32, 48, 8, 16, 16)          # 112 channels, 16x16
        self.inc_b = InceptionModule(112, 64, 64, 96, 16, 32, 32)        # 224 channels, 8x8
        self.inc_c = InceptionModule(224, 96, 96, 128, 24, 48, 48)       # 320 channels, 8x8
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(self.inc_c.out_channels, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = F.max_pool2d(x, 2)      # 32 -> 16
        x = self.inc_a(x)
        x = F.max_pool2d(x, 2)      # 16 -> 8
        x = self.inc_c(self.inc_b(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(self.dropout(x))


def build_model(num_classes=10):
    return YanNet(num_classes)


@torch.no_grad()
def accuracy(model, loader, device):
    if loader is None:
        return float("nan")
    model.eval()
    hits, n = 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        hits += (model(x).argmax(1) == y).sum().item()
        n += len(y)
    return hits / max(n, 1)


def train(model, train_loader, val_loader, *, epochs, device):
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(train_loader))
    hist = {"train_loss": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        total, n = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            n += len(y)
        hist["train_loss"].append(total / n)
        hist["val_acc"].append(accuracy(model, val_loader, device))
    return hist
