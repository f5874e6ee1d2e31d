"""Backbones: ``(B, 3, S, S)`` normalised RGB -> feature map F ``(B, C, S/8, S/8)``.

``BACKBONES`` is a literal name -> class table (no string registry): "resnet50" (ResNet-50
bottleneck), "drn_d_54" (DRN-D-54, Yu et al. 2017), "light" (MobileNetV2-style, real-time) and "small" (a
small dense-conv ResNet that trains fast on a CPU).
All are randomly initialised, use only Conv/BN/ReLU/Resize ops (ONNX friendly) and reach 1/8
resolution as documented in each module (dilation and/or a fixed bilinear upsampling after a
1 x 1 projection to C channels). F is 512 x 32 x 32 for a 256 px crop with the paper's C = 512.

Glossary: B batch, C channels, S crop side in pixels.
"""

from __future__ import annotations

from torch import nn

from robosmplx_core.nets.backbones._common import FEATURE_STRIDE
from robosmplx_core.nets.backbones.drn import DRND54Backbone
from robosmplx_core.nets.backbones.light import LightBackbone
from robosmplx_core.nets.backbones.resnet import ResNet50Backbone
from robosmplx_core.nets.backbones.small import SmallResNetBackbone

BACKBONES: dict[str, type[nn.Module]] = {
    "resnet50": ResNet50Backbone,
    "drn_d_54": DRND54Backbone,
    "light": LightBackbone,
    "small": SmallResNetBackbone,
}

__all__ = ["BACKBONES", "FEATURE_STRIDE", "build_backbone", "ResNet50Backbone", "DRND54Backbone", "LightBackbone",
           "SmallResNetBackbone"]


def build_backbone(name: str, *, out_channels: int = 512) -> nn.Module:
    """The backbone called ``name`` with F of ``out_channels`` channels (other arguments default).

    Raises:
        ValueError: unknown name (lists the valid ones) or a non-positive channel count.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: expected one of {sorted(BACKBONES)}")
    if out_channels < 1:
        raise ValueError(f"out_channels: expected a positive channel count, got {out_channels}")
    return BACKBONES[name](out_channels=out_channels)
