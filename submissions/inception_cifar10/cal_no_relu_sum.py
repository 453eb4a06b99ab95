# Planted mistake (example submission): the four branches are summed instead of concatenated. To make the sum
# possible every branch is forced to ch1x1 output channels (ch3x3, ch5x5 and pool_proj are ignored), so the
# module outputs (N, ch1x1, H, W) instead of (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W). The branches end in
# conv + batch norm without a ReLU, and one ReLU is applied after the sum (ResNet style). build_model sizes its
# later layers with the same channel count, so the network itself runs. Everything else is correct.
#
# HW3 Q7 -- Inception on CIFAR-10
# Cal
#
# Like in ResNet, I add the branch outputs (they all have the same shape) and apply the ReLU after the
# addition, so the branches end with conv + BN and no activation of their own.

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(c_in, c_out, k, relu=True):
    layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InceptionModule(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj):
        super().__init__()
        out = ch1x1  # every branch must have the same number of channels to be added
        self.out_channels = out
        self.branch1 = conv_bn(in_channels, out, 1, relu=False)
        self.branch2 = nn.Sequential(conv_bn(in_channels, ch3x3_reduce, 1), conv_bn(ch3x3_reduce, out, 3, relu=False))
        self.branch3 = nn.Sequential(conv_bn(in_channels, ch5x5_reduce, 1), conv_bn(ch5x5_reduce, out, 5, relu=False))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv_bn(in_channels, out, 1, relu=False))

    def forward(self, x):
        y = self.branch1(x) + self.branch2(x) + self.branch3(x) + self.branch4(x)
        return F.relu(y)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


class CalNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn(3, 32, 3)
        self.block1 = InceptionModule(32, 48, 32, 48, 8, 16, 16)
        self.block2 = InceptionModule(self.block1.out_channels, 128, 64, 96, 16, 32, 32)
        self.block3 = InceptionModule(self.block2.out_channels, 128, 64, 96, 16, 32, 32)
        self.fc = nn.Linear(self.block3.out_channels, num_classes)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 2)        # 16x16
        x = F.max_pool2d(self.block1(x), 2)      # 8x8
        x = self.block3(self.block2(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build_model(num_classes=10):
    return CalNet(num_classes)


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    history = {"train_loss": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            running += loss.item()
        scheduler.step()
        history["train_loss"].append(running / len(train_loader))

        model.eval()
        correct = total = 0
        with torch.no_grad():
            for inputs, targets in val_loader if val_loader is not None else []:
                inputs, targets = inputs.to(device), targets.to(device)
                correct += (model(inputs).argmax(1) == targets).sum().item()
                total += targets.numel()
        history["val_acc"].append(correct / total if total else float("nan"))
    return history
