"""Localization Module (paper sec. 4.2): 3D joint volumes LF, soft-argmax joints K, part maps S.

From the backbone feature map F ``(B, C, h, w)`` (h = w = 32 for a 256 px crop) a 1 x 1 conv
predicts ``LF (B, J * D, h, w)``, read as J joint volumes ``(B, J, D, h, w)`` of depth D (32 in
the paper). The joints K ``(B, J, 3)`` are their soft-argmax; the part segmentation logits S
``(B, P + 1, 2h, 2w)`` (64 x 64; channel 0 = background, 1..P = parts) come from LF through a
1 x 1 reduction, a 2x transposed-conv upsampling and a 3 x 3 conv.

Joint coordinate convention (``soft_argmax_3d``): normalised ``(x, y, z)`` in ``[-1, 1]``, x along
the volume width (image right), y along its height (image down), z along its depth (away from
the camera, centred on the crop's depth origin). Voxel index ``i`` of an axis of size ``N`` has
centre ``(2 i + 1) / N - 1`` -- the ``align_corners=False`` convention of ``grid_sample``, so
``x = 2 u / S - 1`` for a continuous pixel coordinate ``u`` of an ``S`` px crop. A one-hot volume
at voxel ``(d, h, w)`` gives exactly ``((2w+1)/W - 1, (2h+1)/H - 1, (2d+1)/D - 1)``; soft-argmax
of a finite volume lies strictly inside ``(-1, 1)``.

Glossary: B batch, C channels, J joints, P parts, D volume depth, h x w feature size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from robosmplx_core.checks import check_shape
from robosmplx_core.nets.backbones._common import conv_bn_relu


def axis_centres(size: int, like: torch.Tensor) -> torch.Tensor:
    """``(size,)`` voxel (or heatmap cell) centres ``(2 i + 1) / size - 1``, dtype and device of ``like``."""
    idx = torch.arange(size, dtype=like.dtype, device=like.device)
    return (2.0 * idx + 1.0) / size - 1.0


def soft_argmax_3d(volume: torch.Tensor) -> torch.Tensor:
    """Differentiable argmax of J volumes of logits ``(B, J, D, H, W)`` -> ``(B, J, 3)`` xyz.

    Softmax over the D * H * W voxels of each joint, then the expected voxel-centre coordinate
    along each axis (convention in the module docstring). Works for B = 0 and exports to ONNX
    (Softmax, ReduceSum, MatMul).

    Raises:
        ValueError: ``volume`` is not 5-D.
    """
    check_shape(volume, "B J D H W", name="volume")
    depth, height, width = volume.shape[2], volume.shape[3], volume.shape[4]
    # softmax over (D, H, W) without flattening: the exporter turns a flatten into Reshape(0, J, -1),
    # which ONNX Runtime rejects for an empty batch
    shifted = volume - volume.amax(dim=(2, 3, 4), keepdim=True)
    weights = torch.exp(shifted)
    prob = weights / weights.sum(dim=(2, 3, 4), keepdim=True)
    x = (prob.sum(dim=(2, 3)) * axis_centres(width, volume)).sum(dim=-1)
    y = (prob.sum(dim=(2, 4)) * axis_centres(height, volume)).sum(dim=-1)
    z = (prob.sum(dim=(3, 4)) * axis_centres(depth, volume)).sum(dim=-1)
    return torch.stack([x, y, z], dim=-1)


@dataclass(frozen=True)
class LocalizationOutput:
    """What the Localization Module produces.

    Fields:
        lf: (B, J * D, h, w) the 3D joint feature maps LF (flat channels; volume = lf.view(B, J, D, h, w)).
        joints: (B, J, 3) soft-argmax joints K, normalised crop coordinates (module docstring).
        segm_logits: (B, P + 1, 2h, 2w) part segmentation logits S, channel 0 = background.
    """

    lf: torch.Tensor
    joints: torch.Tensor
    segm_logits: torch.Tensor


class LocalizationModule(nn.Module):
    """F ``(B, C, h, w)`` -> LF, K, S (see module docstring).

    Args:
        in_channels: C of F.
        num_joints: J.
        num_parts: P (the head outputs P + 1 channels).
        depth: D, depth bins of each joint volume (32 in the paper).
        segm_channels: width of the segmentation branch.
    """

    def __init__(self, *, in_channels: int, num_joints: int, num_parts: int, depth: int = 32,
                 segm_channels: int = 128) -> None:  # fmt: skip
        super().__init__()
        if min(in_channels, num_joints, num_parts, depth, segm_channels) < 1:
            raise ValueError("LocalizationModule: in_channels, num_joints, num_parts, depth and "
                             "segm_channels must all be >= 1")  # fmt: skip
        self.num_joints, self.num_parts, self.depth = num_joints, num_parts, depth
        self.to_volume = nn.Conv2d(in_channels, num_joints * depth, kernel_size=1)
        self.segm_head = nn.Sequential(
            conv_bn_relu(num_joints * depth, segm_channels, kernel=1),
            nn.ConvTranspose2d(segm_channels, segm_channels, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(segm_channels),
            nn.ReLU(inplace=True),
            conv_bn_relu(segm_channels, segm_channels, kernel=3),
            nn.Conv2d(segm_channels, num_parts + 1, kernel_size=1),
        )

    @property
    def lf_channels(self) -> int:
        """J * D, the channel count of LF."""
        return self.num_joints * self.depth

    def forward(self, features: torch.Tensor) -> LocalizationOutput:
        """F ``(B, C, h, w)`` -> :class:`LocalizationOutput`."""
        lf = self.to_volume(features)
        b, _, h, w = lf.shape
        volume = lf.view(b, self.num_joints, self.depth, h, w)
        return LocalizationOutput(lf=lf, joints=soft_argmax_3d(volume), segm_logits=self.segm_head(lf))
