# Planted mistake (example submission): the 3x3 branch's convolution has stride=2, so that branch returns
# maps of half the height and width of the other three and torch.cat(..., dim=1) fails with a size mismatch;
# the module (and so build_model's network) cannot produce an output. Everything else is correct.
#
# HW3 Q7 - Inception module on CIFAR-10
# Zed
#
# GoogLeNet-style module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | maxpool -> 1x1, concatenated.
# The 3x3 conv uses stride 2 to downsample like in the lecture slides.

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(c_in, c_out, kernel_size, stride=1, padding=0):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class InceptionModule(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj):
        super().__init__()
        self.branch1x1 = conv_bn(in_channels, ch1x1, 1)
        self.branch3x3 = nn.Sequential(
            conv_bn(in_channels, ch3x3_reduce, 1),
            conv_bn(ch3x3_reduce, ch3x3, 3, stride=2, padding=1),
        )
        self.branch5x5 = nn.Sequential(
            conv_bn(in_channels, ch5x5_reduce, 1),
            conv_bn(ch5x5_reduce, ch5x5, 5, padding=2),
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            conv_bn(in_channels, pool_proj, 1),
        )

    def forward(self, x):
        branches = [self.branch1x1(x), self.branch3x3(x), self.branch5x5(x), self.branch_pool(x)]
        return torch.cat(branches, dim=1)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 48, 3, padding=1),
            nn.MaxPool2d(2),                                   # 16x16
            InceptionModule(48, 32, 32, 48, 8, 16, 16),        # 112
            nn.MaxPool2d(2),                                   # 8x8
            InceptionModule(112, 64, 64, 96, 16, 32, 32),      # 224
            InceptionModule(224, 96, 96, 128, 24, 48, 48),     # 320
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(320, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


def build_model(num_classes=10):
    return Net(num_classes)


def evaluate(model, loader, device):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.size(0)
    return correct / total


def train(model, train_loader, val_loader, *, epochs, device):
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs,
                                                    steps_per_epoch=len(train_loader))
    history = {"train_loss": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        total_loss, count = 0.0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * labels.size(0)
            count += labels.size(0)
        history["train_loss"].append(total_loss / count)
        history["val_acc"].append(evaluate(model, val_loader, device) if val_loader is not None else float("nan"))
    return history
