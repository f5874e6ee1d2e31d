"""Small ResNet backbone: dense 3 x 3 convs and basic residual blocks, sized to train on a CPU.

The MobileNetV2 trunk ("light") is cheap to run but slow to *train* on a CPU: its depthwise
convolutions have a costly backward pass there, and it is deep for its width. This trunk uses
only dense 3 x 3 convolutions (the CPU's best-optimised kernel) in three short stages, and
reaches stride 8 directly (no dilation, no upsampling):

    stem   3 x 3 s2 (w) + 3 x 3 (w)                 S/2
    stage2 3 x 3 s2 (2w) + ``blocks[0]`` basic      S/4
    stage3 3 x 3 s2 (4w) + ``blocks[1]`` basic      S/8
    neck   1 x 1 conv + BN + ReLU -> out_channels   S/8

A basic block is ResNet's two 3 x 3 conv-BN layers with an identity shortcut (He et al., CVPR
2016), its last BN starting at zero so each block starts as the identity (``init_weights``).
With ``width=32`` and ``blocks=(2, 3)`` the trunk has 1.14 M parameters. In a
hand-run probe (2D heatmaps of the 22 body joints from 128 px synthetic body crops, 4 minutes
on 2 CPU threads) this trunk reached a held-out median error of 6.8 px where the "light" trunk
reached 10.7 px (README, "learning check", session 6).

Glossary: B batch, C channels, S crop side in pixels (a multiple of 32), w width.
"""

from __future__ import annotations

import torch
from torch import nn

from robosmplx_core.nets.backbones._common import FEATURE_STRIDE, FeatureNeck, conv_bn_relu, init_weights


class BasicBlock(nn.Module):
    """Two 3 x 3 conv-BN layers + identity shortcut: ``(B, c, h, w) -> (B, c, h, w)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = conv_bn_relu(channels, channels, kernel=3)
        self.second = conv_bn_relu(channels, channels, kernel=3, relu=False)
        self.second[1].zero_bn = True  # the branch starts at zero (init_weights)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.second(self.first(x)))


class SmallResNetBackbone(nn.Module):
    """``(B, 3, S, S)`` -> F ``(B, out_channels, S/8, S/8)`` (module docstring).

    Args:
        out_channels: C of F.
        width: w, channels of the stem (stages use 2w and 4w).
        blocks: basic blocks in the stride-4 and stride-8 stages.
    """

    def __init__(self, *, out_channels: int = 512, width: int = 32, blocks: tuple[int, int] = (2, 3)) -> None:
        super().__init__()
        if width < 1 or len(blocks) != 2 or min(blocks) < 0:
            raise ValueError(f"SmallResNetBackbone: width >= 1 and two block counts >= 0 expected, "
                             f"got width={width}, blocks={blocks}")  # fmt: skip
        self.out_channels = out_channels
        layers: list[nn.Module] = [conv_bn_relu(3, width, kernel=3, stride=2), conv_bn_relu(width, width, kernel=3)]
        c_prev = width
        for c_out, count in ((2 * width, blocks[0]), (4 * width, blocks[1])):
            layers.append(conv_bn_relu(c_prev, c_out, kernel=3, stride=2))
            layers += [BasicBlock(c_out) for _ in range(count)]
            c_prev = c_out
        self.trunk = nn.Sequential(*layers)
        self.neck = FeatureNeck(in_channels=c_prev, out_channels=out_channels, in_stride=FEATURE_STRIDE)
        init_weights(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` normalised RGB -> ``(B, out_channels, S/8, S/8)``."""
        return self.neck(self.trunk(images))
