"""ResNet-50 (bottleneck, He et al. 2016) trunk with a 1/8-resolution feature neck.

Stages: stem (7 x 7 conv stride 2 + 3 x 3 max-pool stride 2, 64 ch) then four bottleneck stages
of [3, 4, 6, 3] blocks with 256, 512, 1024, 2048 output channels and strides 1, 2, 2, 2
(torchvision's "ResNet v1.5" layout: the stride sits on the 3 x 3 conv).

Output stride: ``output_stride=8`` replaces the strides of stages 3 and 4 by dilations 2 and 4
(DeepLab style, no interpolation; the most compute); ``16`` dilates only stage 4 and the neck
upsamples 2x; ``32`` is the classification layout, upsampled 4x. In every case the neck
projects 2048 -> ``out_channels`` with a 1 x 1 conv and returns ``(B, C, S/8, S/8)``.
Random initialisation; no pretrained weights are loaded here.

Glossary: B batch, C channels, S crop side in pixels (a multiple of 32).
"""

from __future__ import annotations

import torch
from torch import nn

from robosmplx_core.nets.backbones._common import FeatureNeck, check_output_stride, conv_bn_relu, init_weights

RESNET50_BLOCKS = (3, 4, 6, 3)
_EXPANSION = 4


class Bottleneck(nn.Module):
    """1 x 1 reduce, 3 x 3 (stride, dilation), 1 x 1 expand (x4), residual add, ReLU."""

    def __init__(self, in_channels: int, planes: int, *, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        out_channels = planes * _EXPANSION
        self.conv1 = conv_bn_relu(in_channels, planes, kernel=1)
        self.conv2 = conv_bn_relu(planes, planes, kernel=3, stride=stride, dilation=dilation)
        self.conv3 = conv_bn_relu(planes, out_channels, kernel=1, relu=False)
        self.conv3[1].zero_bn = True  # the residual branch starts at zero (init_weights)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = conv_bn_relu(in_channels, out_channels, kernel=1, stride=stride, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


def make_bottleneck_stage(
    in_channels: int, planes: int, blocks: int, *, stride: int, dilation: int, first_dilation: int
) -> nn.Sequential:
    """``blocks`` bottlenecks; only the first one strides (and uses ``first_dilation``)."""
    layers = [Bottleneck(in_channels, planes, stride=stride, dilation=first_dilation)]
    layers += [Bottleneck(planes * _EXPANSION, planes, dilation=dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50Backbone(nn.Module):
    """ResNet-50 trunk + neck: ``(B, 3, S, S)`` -> F ``(B, out_channels, S/8, S/8)``.

    Args:
        out_channels: C of F (512 in the paper).
        output_stride: trunk stride, 8 | 16 | 32 (see module docstring).
    """

    def __init__(self, *, out_channels: int = 512, output_stride: int = 16) -> None:
        super().__init__()
        check_output_stride(output_stride, (8, 16, 32), name="ResNet50Backbone")
        self.out_channels = out_channels
        self.stem = nn.Sequential(
            conv_bn_relu(3, 64, kernel=7, stride=2), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        )
        dil3 = 2 if output_stride == 8 else 1
        dil4 = {8: 4, 16: 2, 32: 1}[output_stride]
        self.layer1 = make_bottleneck_stage(64, 64, RESNET50_BLOCKS[0], stride=1, dilation=1, first_dilation=1)
        self.layer2 = make_bottleneck_stage(256, 128, RESNET50_BLOCKS[1], stride=2, dilation=1, first_dilation=1)
        self.layer3 = make_bottleneck_stage(
            512, 256, RESNET50_BLOCKS[2], stride=1 if dil3 > 1 else 2, dilation=dil3, first_dilation=1
        )
        self.layer4 = make_bottleneck_stage(
            1024, 512, RESNET50_BLOCKS[3], stride=1 if dil4 > 1 else 2, dilation=dil4,
            first_dilation=max(dil4 // 2, 1),
        )  # fmt: skip
        self.neck = FeatureNeck(in_channels=2048, out_channels=out_channels, in_stride=output_stride)
        init_weights(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` normalised RGB -> ``(B, out_channels, S/8, S/8)``."""
        x = self.stem(images)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.neck(x)
