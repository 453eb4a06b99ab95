"""Reference solution for the ``conv1x1`` assignment (HW3 questions 2, 3 and 6).

Q2: backpropagation through a convolution (``ANSWERS``); Q3: parameter counts
of a 1-D CNN (``ANSWERS``); Q6: 1x1 convolutions (everything else).

A submission must define:

``PointwiseConv(in_channels, out_channels, bias=True)``
    An ``nn.Module`` mapping ``(N, Cin, H, W) -> (N, Cout, H, W)`` with a 1x1
    convolution.  Weight shaped ``(Cout, Cin, 1, 1)`` or ``(Cout, Cin)``, bias
    shaped ``(Cout,)`` when ``bias=True`` and absent otherwise.

``build_model(num_classes=10)``
    A small CNN for CIFAR-10-shaped input ``(N, 3, 32, 32)`` returning logits
    ``(N, num_classes)``, containing at least one channel-reducing 1x1 conv.

``pointwise_output_shape(input_shape, out_channels)``
    Shape arithmetic: ``(N, Cin, H, W) -> (N, out_channels, H, W)``.

``ANSWERS``
    ``conv_backprop_dL_dF`` (2x2), ``conv_backprop_dL_dX`` (3x3) and
    ``conv1d_param_counts`` (9 ints).

The written answers are computed with torch at import time (a few
milliseconds), never typed in by hand, so they cannot drift from the problem
statement below.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PointwiseConv", "build_model", "pointwise_output_shape", "ANSWERS"]


class PointwiseConv(nn.Conv2d):
    """A 1x1 convolution: a per-pixel linear map across channels.

    Every output pixel ``y[n, :, h, w]`` is ``W @ x[n, :, h, w] + b``, so the
    spatial size is unchanged and only the channel count goes from
    ``in_channels`` to ``out_channels``.  It has ``in_channels * out_channels``
    weights (``weight`` shaped ``(out, in, 1, 1)``) plus ``out_channels``
    biases (``bias`` is ``None`` when ``bias=False``).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size=1, bias=bias)


def build_model(num_classes: int = 10) -> nn.Module:
    """A small CIFAR-10 CNN with two channel-reducing 1x1 "bottleneck" layers.

    32x32x3 -> conv3x3(32) -> pool -> 1x1(16) -> conv3x3(64) -> pool
    -> 1x1(32) -> global average pool -> linear(num_classes).
    13,114 parameters with the default ``num_classes=10``.
    """
    return nn.Sequential(
        nn.Conv2d(3, 32, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),  # 16x16
        PointwiseConv(32, 16),  # channel reduction 32 -> 16
        nn.ReLU(inplace=True),
        nn.Conv2d(16, 64, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),  # 8x8
        PointwiseConv(64, 32),  # channel reduction 64 -> 32
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    )


def pointwise_output_shape(input_shape, out_channels: int) -> tuple[int, int, int, int]:
    """Output shape of a 1x1 convolution (stride 1, no padding needed)."""
    n, _cin, h, w = input_shape
    return (int(n), int(out_channels), int(h), int(w))


# --------------------------------------------------------------------------
# Written answers, computed rather than typed.
# --------------------------------------------------------------------------

def _conv_backprop_answers() -> tuple[list[list[float]], list[list[float]]]:
    """HW3 Q2: valid cross-correlation of X (3x3) with F (2x2) -> 2x2 output,
    global average pooling to a scalar L, dL/dL = 1.  Returns (dL/dF, dL/dX)."""
    x = torch.tensor(
        [[3, 4, 5], [2, 1, -3], [4, -2, 0]], dtype=torch.float64
    ).reshape(1, 1, 3, 3).requires_grad_()
    f = torch.tensor([[2, 0], [-3, 1]], dtype=torch.float64).reshape(1, 1, 2, 2).requires_grad_()
    loss = F.conv2d(x, f).mean()  # F.conv2d is a cross-correlation, "valid" by default
    loss.backward()
    return f.grad.reshape(2, 2).tolist(), x.grad.reshape(3, 3).tolist()


def _conv1d_param_counts() -> list[int]:
    """HW3 Q3: per-layer parameter counts of the Keras model

        Input(500, 7) -> Conv1D(16, 3, relu) -> MaxPool1D(2) -> Conv1D(32, 5)
        -> MaxPool1D(2) -> Conv1D(64, 5) -> MaxPool1D(2) -> Flatten
        -> Dense(128) -> Dense(5)

    rebuilt in PyTorch (channels first).  Parameter counts do not depend on
    the layout, and activations (part of the Keras Conv1D layer) have no
    parameters, so they are left out; the flatten size is found by a dummy
    forward pass.  The layers are built inside ``fork_rng`` so that importing
    this module leaves torch's global random number generator untouched.
    """
    with torch.random.fork_rng(devices=[]):
        features = nn.Sequential(
            nn.Conv1d(7, 16, kernel_size=3),
            nn.MaxPool1d(2),
            nn.Conv1d(16, 32, kernel_size=5),
            nn.MaxPool1d(2),
            nn.Conv1d(32, 64, kernel_size=5),
            nn.MaxPool1d(2),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = features(torch.zeros(1, 7, 500)).shape[1]
        keras_layers = [*features, nn.Linear(flat, 128), nn.Linear(128, 5)]
    return [int(sum(p.numel() for p in layer.parameters())) for layer in keras_layers]


_dL_dF, _dL_dX = _conv_backprop_answers()

ANSWERS = {
    "conv_backprop_dL_dF": [[float(v) for v in row] for row in _dL_dF],
    "conv_backprop_dL_dX": [[float(v) for v in row] for row in _dL_dX],
    "conv1d_param_counts": _conv1d_param_counts(),
}

del _dL_dF, _dL_dX
