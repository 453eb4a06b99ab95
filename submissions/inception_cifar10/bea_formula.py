# Planted mistake (example submission): conv_output_size forgets the dilation. It uses the plain kernel size
# where nn.Conv2d uses the dilated kernel's extent dilation * (kernel_size - 1) + 1, so its answer is only
# right when dilation == 1. Everything else is correct.
#
# HW3 Q7: Inception module + CIFAR-10
# Bea
#
# Output size of a convolution along one dimension:
#     out = floor((size + 2 * padding - kernel_size) / stride) + 1
# With stride 1 and padding = (k - 1) / 2 the size stays the same ("same" padding), which is why every
# branch of the Inception module can be concatenated. With stride s the output is about size / s.

import torch
import torch.nn as nn
import torch.nn.functional as F


class InceptionModule(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj):
        super().__init__()

        def block(c_in, c_out, k):
            return [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.branch1 = nn.Sequential(*block(in_channels, ch1x1, 1))
        self.branch2 = nn.Sequential(*block(in_channels, ch3x3_reduce, 1), *block(ch3x3_reduce, ch3x3, 3))
        self.branch3 = nn.Sequential(*block(in_channels, ch5x5_reduce, 1), *block(ch5x5_reduce, ch5x5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *block(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - kernel_size) // stride + 1


def build_model(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),                                            # 32x16x16
        InceptionModule(32, 16, 24, 32, 8, 16, 16),                 # 80x16x16
        InceptionModule(80, 32, 48, 64, 8, 16, 16),                 # 128x16x16
        nn.MaxPool2d(2),                                            # 128x8x8
        InceptionModule(128, 64, 64, 96, 16, 32, 32),               # 224x8x8
        InceptionModule(224, 64, 64, 96, 16, 32, 32),               # 224x8x8
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(224, num_classes),
    )


def train(model, train_loader, val_loader, *, epochs, device):
    model = model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=epochs * len(train_loader))
    train_losses, val_accs = [], []
    for epoch in range(epochs):
        model.train()
        losses = []
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            opt.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        train_losses.append(sum(losses) / len(losses))

        model.eval()
        correct, total = 0, 0
        if val_loader is not None:
            with torch.no_grad():
                for images, labels in val_loader:
                    images, labels = images.to(device), labels.to(device)
                    correct += (model(images).argmax(dim=1) == labels).sum().item()
                    total += len(labels)
        val_accs.append(correct / total if total else float("nan"))
        print(f"epoch {epoch + 1}: train loss {train_losses[-1]:.4f}, val acc {val_accs[-1]:.4f}")
    return {"train_loss": train_losses, "val_acc": val_accs}
