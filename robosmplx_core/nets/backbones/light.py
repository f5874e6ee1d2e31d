"""Light real-time backbone: MobileNetV2 inverted residuals (Sandler et al., CVPR 2018).

Stem 3 x 3 conv stride 2 (32 ch), then inverted-residual stages ``(expand t, channels c,
blocks n, stride s)``: (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
(6, 160, 3, 2), (6, 320, 1, 1); channels scale with ``width_mult`` (rounded to multiples of 8).
Each block: 1 x 1 expand + ReLU6, 3 x 3 depthwise (stride, dilation) + ReLU6, 1 x 1 linear
project, residual when shapes match.

Output stride: stages that would go below ``output_stride`` (8 | 16) keep stride 1 and dilate
instead (x2 per skipped stride, DeepLabV3 style). The neck projects to ``out_channels`` with a
1 x 1 conv and, for ``output_stride=16`` (the default, ~3x cheaper), upsamples 2x bilinearly.
Output ``(B, out_channels, S/8, S/8)``. Random initialisation.

Glossary: B batch, C channels, S crop side in pixels (a multiple of 32).
"""

from __future__ import annotations

import torch
from torch import nn

from robosmplx_core.nets.backbones._common import FeatureNeck, check_output_stride, init_weights

MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


def _round8(x: float) -> int:
    return max(8, int(x + 4) // 8 * 8)


def _conv_bn(c_in: int, c_out: int, *, kernel: int, stride: int = 1, dilation: int = 1,
             groups: int = 1, act: bool = True) -> list[nn.Module]:  # fmt: skip
    pad = dilation * (kernel - 1) // 2
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    """MobileNetV2 block ``(B, c_in, h, w) -> (B, c_out, h / stride, w / stride)``."""

    def __init__(self, c_in: int, c_out: int, *, expand: int, stride: int, dilation: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = [] if expand == 1 else _conv_bn(c_in, hidden, kernel=1)
        layers += _conv_bn(hidden, hidden, kernel=3, stride=stride, dilation=dilation, groups=hidden)
        layers += _conv_bn(hidden, c_out, kernel=1, act=False)
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out
        if self.residual:
            layers[-1].zero_bn = True  # the residual branch starts at zero (init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class LightBackbone(nn.Module):
    """MobileNetV2-style trunk + neck: ``(B, 3, S, S)`` -> F ``(B, out_channels, S/8, S/8)``.

    Args:
        out_channels: C of F.
        output_stride: trunk stride, 8 | 16 (see module docstring).
        width_mult: channel multiplier of the trunk (1.0 = MobileNetV2).
    """

    def __init__(self, *, out_channels: int = 512, output_stride: int = 16, width_mult: float = 1.0) -> None:
        super().__init__()
        check_output_stride(output_stride, (8, 16), name="LightBackbone")
        if width_mult <= 0:
            raise ValueError(f"LightBackbone: width_mult must be positive, got {width_mult}")
        self.out_channels = out_channels
        c_prev = _round8(32 * width_mult)
        layers: list[nn.Module] = [nn.Sequential(*_conv_bn(3, c_prev, kernel=3, stride=2))]
        stride_now, dilation = 2, 1
        for expand, channels, blocks, stride in MOBILENET_V2_STAGES:
            c_out = _round8(channels * width_mult)
            if stride_now * stride > output_stride:
                block_stride, dilation = 1, dilation * stride
            else:
                block_stride, stride_now = stride, stride_now * stride
            for i in range(blocks):
                layers.append(InvertedResidual(c_prev, c_out, expand=expand, stride=block_stride if i == 0 else 1,
                                               dilation=dilation))  # fmt: skip
                c_prev = c_out
        self.trunk = nn.Sequential(*layers)
        self.neck = FeatureNeck(in_channels=c_prev, out_channels=out_channels, in_stride=output_stride)
        init_weights(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` normalised RGB -> ``(B, out_channels, S/8, S/8)``."""
        return self.neck(self.trunk(images))
