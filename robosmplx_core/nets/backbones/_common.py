"""Pieces shared by the backbones: conv-BN-ReLU and the 1/8-resolution projection neck.

Every backbone maps ``(B, 3, S, S)`` normalised RGB to a feature map F ``(B, C, S/8, S/8)``
(``C = out_channels``, 512 in the paper; 32 x 32 for a 256 px crop). Each trunk reaches its
own native output stride (8, 16 or 32, set by dilating the last stages instead of striding);
``FeatureNeck`` then applies a 1 x 1 projection (conv + BN + ReLU) to ``C`` channels and, where
the trunk stride is above 8, a bilinear upsampling by the remaining fixed factor (a Python int
known at construction, so export sees a constant-scale Resize). ``S`` must be a multiple of 32.

Glossary: B batch, C channels, S crop side in pixels.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

FEATURE_STRIDE = 8  # F is always at 1/8 of the input side (32 x 32 for a 256 px crop)


def conv_bn_relu(
    in_channels: int, out_channels: int, *, kernel: int = 3, stride: int = 1, dilation: int = 1,
    groups: int = 1, relu: bool = True,
) -> nn.Sequential:
    """``kernel x kernel`` conv (no bias, 'same' padding for odd kernels) + BN (+ ReLU)."""
    pad = dilation * (kernel - 1) // 2
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=pad, dilation=dilation,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
    ]  # fmt: skip
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class FeatureNeck(nn.Module):
    """1 x 1 projection to ``out_channels`` + bilinear upsampling from ``in_stride`` to 1/8.

    Input ``(B, C_in, S/in_stride, S/in_stride)`` -> output ``(B, out_channels, S/8, S/8)``.
    """

    def __init__(self, *, in_channels: int, out_channels: int, in_stride: int) -> None:
        super().__init__()
        if in_stride % FEATURE_STRIDE:
            raise ValueError(f"in_stride: expected a multiple of {FEATURE_STRIDE}, got {in_stride}")
        self.project = conv_bn_relu(in_channels, out_channels, kernel=1)
        self.upsample = in_stride // FEATURE_STRIDE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        if self.upsample > 1:  # a constant of the architecture, not a data value
            x = F.interpolate(x, scale_factor=float(self.upsample), mode="bilinear", align_corners=False)
        return x


def check_output_stride(output_stride: int, allowed: tuple[int, ...], *, name: str) -> None:
    """Raise ``ValueError`` naming the allowed trunk strides."""
    if output_stride not in allowed:
        raise ValueError(f"{name}: output_stride must be one of {allowed}, got {output_stride}")


def init_weights(module: nn.Module) -> None:
    """He-normal convs (fan-in), unit/zero BN, zero last BN of every residual branch.

    Fan-in keeps activations O(1) through an untrained network even in eval mode (BN at its
    initial identity statistics), and zeroing the last BN scale of each residual branch
    (``zero_bn`` marked modules; Goyal et al. 2017, torchvision's ``zero_init_residual``)
    makes every residual block start as the identity, so depth does not blow up the signal.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 0.0 if getattr(m, "zero_bn", False) else 1.0)
            nn.init.zeros_(m.bias)
