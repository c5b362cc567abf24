"""Small building blocks shared by the model's stages."""
from __future__ import annotations

from torch import nn


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm + ReLU, 'same' padding: (B, cin, H, W) -> (B, cout, H / stride, W / stride)."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )
