# HW3 - 1x1 convolutions
# Bob
#
# I wrote the 1x1 conv as a matrix multiply over the channel dimension with
# einsum instead of using nn.Conv2d, since a 1x1 conv is just a linear layer
# applied at every pixel.

import math

import numpy as np
import torch
import torch.nn as nn


class PointwiseConv(nn.Module):
    """1x1 convolution written with einsum: y[n,o,h,w] = sum_c W[o,c] x[n,c,h,w] + b[o]."""

    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # same scale as nn.Linear / nn.Conv2d default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        bound = 1.0 / math.sqrt(self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        out = torch.einsum("oc,nchw->nohw", self.weight, x)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"


class BottleneckNet(nn.Module):
    """conv-bn-relu blocks with a 1x1 squeeze in the middle (kind of like SqueezeNet)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 48, 3, padding=1, bias=False),
            nn.BatchNorm2d(48),
            nn.ReLU(),
        )
        self.squeeze = PointwiseConv(48, 12)  # 48 -> 12 channels
        self.block = nn.Sequential(
            nn.Conv2d(12, 48, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(48),
            nn.ReLU(),
            nn.Conv2d(48, 96, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(96),
            nn.ReLU(),
        )
        self.fc = nn.Linear(96, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.squeeze(x))
        x = self.block(x)
        x = x.mean(dim=(2, 3))  # global average pooling
        return self.fc(x)


def build_model(num_classes=10):
    return BottleneckNet(num_classes)


def pointwise_output_shape(input_shape, out_channels):
    # a 1x1 conv only changes the channels, H and W stay the same
    n, c, h, w = input_shape
    return (n, out_channels, h, w)


# ---------------------------------------------------------------------------
# Q2: backprop through conv + global average pooling (done by hand, checked
# with numpy)
#
# Y = X (*) F (valid cross-correlation), Y is 2x2
# L = (Y00 + Y01 + Y10 + Y11) / 4  so dL/dY = 1/4 everywhere
#
# dL/dF[a,b] = sum_ij dL/dY[i,j] * X[i+a, j+b]  = 1/4 * (sum of the 2x2 window of X at (a,b))
# dL/dX = "full" convolution of dL/dY with F, i.e. every X[p,q] collects
#         F[p-i, q-j] / 4 from every output Y[i,j] it contributed to
# ---------------------------------------------------------------------------
X = np.array([[3, 4, 5], [2, 1, -3], [4, -2, 0]], dtype=float)
Filt = np.array([[2, 0], [-3, 1]], dtype=float)
dY = np.full((2, 2), 1 / 4)

dF = np.zeros((2, 2))
for a in range(2):
    for b in range(2):
        dF[a, b] = np.sum(dY * X[a:a + 2, b:b + 2])

dX = np.zeros((3, 3))
for i in range(2):
    for j in range(2):
        dX[i:i + 2, j:j + 2] += dY[i, j] * Filt

# ---------------------------------------------------------------------------
# Q3: parameters of the Conv1D model, input (500, 7)
# conv1d params = (kernel * in_channels + 1) * filters, dense = (in + 1) * out
# length after valid conv = L - k + 1, after pool(2) = L // 2
# ---------------------------------------------------------------------------
def conv1d_params(k, c_in, filters):
    return (k * c_in + 1) * filters


L = 500
counts = []
c = 7
for filters, k in [(16, 3), (32, 5), (64, 5)]:
    counts.append(conv1d_params(k, c, filters))
    L = L - k + 1
    c = filters
    counts.append(0)  # maxpool
    L = L // 2
flat = L * c  # 59 * 64 = 3776
counts.append(0)  # flatten
counts.append((flat + 1) * 128)
counts.append((128 + 1) * 5)

ANSWERS = {
    "conv_backprop_dL_dF": dF.tolist(),
    "conv_backprop_dL_dX": dX.tolist(),
    "conv1d_param_counts": counts,
}

if __name__ == "__main__":
    print(ANSWERS)
    model = build_model()
    print(model)
    print("params:", sum(p.numel() for p in model.parameters()))
    print(model(torch.randn(2, 3, 32, 32)).shape)
