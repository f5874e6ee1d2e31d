"""DRN-D-54: dilated residual network, variant D, 54 layers (Yu, Koltun, Funkhouser, CVPR 2017).

Layout (channels 16, 32, 64, 128, 256, 512, 512, 512; bottleneck expansion 4):

- level 1: 7 x 7 conv 3 -> 16 (stride 1) + one 3 x 3 conv 16 -> 16 (variant D replaces the
  residual blocks of levels 1-2 by plain convs to remove gridding);
- level 2: one 3 x 3 conv 16 -> 32, stride 2;
- level 3: 3 bottlenecks, 64 planes (-> 256 ch), stride 2;
- level 4: 4 bottlenecks, 128 planes (-> 512 ch), stride 2  (output stride 8 from here on);
- level 5: 6 bottlenecks, 256 planes (-> 1024 ch), dilation 2;
- level 6: 3 bottlenecks, 512 planes (-> 2048 ch), dilation 4;
- level 7: one 3 x 3 conv 2048 -> 512, dilation 2 (no residual, degridding);
- level 8: one 3 x 3 conv 512 -> 512, dilation 1.

Conv count 2 + 1 + 16 x 3 + 2 = 53, plus the classifier of the original = 54. The trunk's output
stride is 8 natively, so the neck only projects 512 -> ``out_channels`` with a 1 x 1 conv.
Random initialisation.

Glossary: B batch, C channels, S crop side in pixels (a multiple of 8; 32 for the whole stack).
"""

from __future__ import annotations

import torch
from torch import nn

from robosmplx_core.nets.backbones._common import FeatureNeck, conv_bn_relu, init_weights
from robosmplx_core.nets.backbones.resnet import make_bottleneck_stage

DRN_D_54_CHANNELS = (16, 32, 64, 128, 256, 512, 512, 512)
DRN_D_54_BLOCKS = (1, 1, 3, 4, 6, 3, 1, 1)


class DRND54Backbone(nn.Module):
    """DRN-D-54 trunk + neck: ``(B, 3, S, S)`` -> F ``(B, out_channels, S/8, S/8)``.

    Args:
        out_channels: C of F (512 in the paper; the trunk itself ends with 512 channels).
    """

    def __init__(self, *, out_channels: int = 512) -> None:
        super().__init__()
        ch = DRN_D_54_CHANNELS
        self.out_channels = out_channels
        self.level1 = nn.Sequential(conv_bn_relu(3, ch[0], kernel=7), conv_bn_relu(ch[0], ch[0]))
        self.level2 = conv_bn_relu(ch[0], ch[1], stride=2)
        blocks = DRN_D_54_BLOCKS
        self.level3 = make_bottleneck_stage(ch[1], ch[2], blocks[2], stride=2, dilation=1, first_dilation=1)
        self.level4 = make_bottleneck_stage(ch[2] * 4, ch[3], blocks[3], stride=2, dilation=1, first_dilation=1)
        self.level5 = make_bottleneck_stage(ch[3] * 4, ch[4], blocks[4], stride=1, dilation=2, first_dilation=2)
        self.level6 = make_bottleneck_stage(ch[4] * 4, ch[5], blocks[5], stride=1, dilation=4, first_dilation=4)
        self.level7 = conv_bn_relu(ch[5] * 4, ch[6], dilation=2)
        self.level8 = conv_bn_relu(ch[6], ch[7], dilation=1)
        self.neck = FeatureNeck(in_channels=ch[7], out_channels=out_channels, in_stride=8)
        init_weights(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` normalised RGB -> ``(B, out_channels, S/8, S/8)``."""
        x = self.level2(self.level1(images))
        x = self.level6(self.level5(self.level4(self.level3(x))))
        return self.neck(self.level8(self.level7(x)))
