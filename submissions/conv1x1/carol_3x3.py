"""HW3 conv1x1 -- Carol"""

import torch
from torch import nn


class PointwiseConv(nn.Module):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__()
        # padding=1 keeps H and W the same
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=bias)

    def forward(self, x):
        return self.conv(x)


def build_model(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(3, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 16, kernel_size=1),  # 1x1 conv to reduce channels
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, num_classes),
    )


def pointwise_output_shape(input_shape, out_channels):
    # 1x1 conv with stride 1 doesn't change the size
    return tuple(input_shape)


# Q2 worked out on paper.
# dL/dX: each output gets 1/4 from the average, then spread back through F
# dL/dF: sum of the X values under each filter position
ANSWERS = {
    "conv_backprop_dL_dF": [[10.0, 7.0], [5.0, -4.0]],
    "conv_backprop_dL_dX": [
        [0.5, 0.5, 0.0],
        [-0.25, 0.0, 0.25],
        [-0.75, -0.5, 0.25],
    ],
    # Q3: (k*cin + 1)*filters for conv, (in + 1)*out for dense
    "conv1d_param_counts": [352, 0, 2592, 0, 10304, 0, 0, 483456, 645],
}
