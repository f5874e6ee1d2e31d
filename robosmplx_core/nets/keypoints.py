"""2D keypoint stage: heatmaps at 1/4 of the crop, decoded to keypoints (an addition to the paper).

The paper's Localization Module reads joints K as the soft-argmax of 3D volumes at 1/8 of the
crop. On this project's CPU budget those volumes learn 2D locations slowly (README, "Learning
check"); a heatmap head at 1/4 supervised with Gaussian targets (SimpleBaseline-style) learns
them several times faster. ``KeypointHead`` is that head: F ``(B, C, h, w)`` -> heatmaps
``(B, N, 2h, 2w)`` for the spec's first N joints (body: 25 = the OpenPose body keypoints), and
``decode_heatmaps`` turns them into keypoints the regressor reads.

Coordinates are the Localization Module's: normalised ``[-1, 1]`` crop coordinates, cell ``i``
of an axis of ``n`` cells has centre ``(2 i + 1) / n - 1`` (``x = 2 u / S - 1`` for pixel ``u``).

Glossary: B batch, C channels, N keypoints, h x w feature size, H = 2h heatmap side.
"""

from __future__ import annotations

import torch
from torch import nn

from robosmplx_core.checks import check_shape
from robosmplx_core.nets.localization import axis_centres

__all__ = ["KeypointHead", "decode_heatmaps", "gaussian_heatmaps"]


def decode_heatmaps(heatmaps: torch.Tensor, *, floor: float = 0.5) -> torch.Tensor:
    """Heatmaps ``(B, N, H, W)`` -> keypoints ``(B, N, 2)`` (x, y in ``[-1, 1]``).

    Each keypoint is the mean cell centre weighted by ``relu(h - floor * max(h))``: only the
    cells above ``floor`` of the peak count, so the estimate is sub-cell and the flat background
    of a weak heatmap does not pull it to the centre. A heatmap with no positive value decodes
    to the crop centre ``(0, 0)``. Exports to ONNX (ReduceMax, Relu, ReduceSum).

    Raises:
        ValueError: ``heatmaps`` is not 4-D, or ``floor`` is outside ``[0, 1)``.
    """
    check_shape(heatmaps, "B N H W", name="heatmaps")
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"decode_heatmaps: floor must be in [0, 1), got {floor}")
    peak = heatmaps.amax(dim=(2, 3), keepdim=True)
    weights = torch.relu(heatmaps - floor * peak.clamp(min=0.0))
    weights = weights / weights.sum(dim=(2, 3), keepdim=True).clamp(min=1e-12)
    x = (weights.sum(dim=2) * axis_centres(heatmaps.shape[3], heatmaps)).sum(dim=-1)
    y = (weights.sum(dim=3) * axis_centres(heatmaps.shape[2], heatmaps)).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def gaussian_heatmaps(xy: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Targets ``(B, N, size, size)``: unit-peak Gaussians of std ``sigma`` cells centred on the
    keypoints ``xy (B, N, 2)`` (normalised crop coordinates, module docstring)."""
    check_shape(xy, "B N 2", name="xy")
    if size < 1 or not sigma > 0:
        raise ValueError(f"gaussian_heatmaps: size >= 1 and sigma > 0 expected, got {size}, {sigma}")
    cells = (xy + 1.0) * (size / 2.0) - 0.5  # continuous cell index of each keypoint
    idx = torch.arange(size, dtype=xy.dtype, device=xy.device)
    gx = torch.exp(-((idx - cells[..., 0, None]) ** 2) / (2.0 * sigma**2))  # (B, N, size)
    gy = torch.exp(-((idx - cells[..., 1, None]) ** 2) / (2.0 * sigma**2))
    return gy[..., :, None] * gx[..., None, :]


class KeypointHead(nn.Module):
    """F ``(B, C, h, w)`` -> heatmaps ``(B, N, 2h, 2w)``: a 2x transposed convolution, BN, ReLU
    and a 1 x 1 convolution.

    Args:
        in_channels: C of F.
        num_keypoints: N.
        channels: width of the upsampled map.
    """

    def __init__(self, *, in_channels: int, num_keypoints: int, channels: int = 64) -> None:
        super().__init__()
        if min(in_channels, num_keypoints, channels) < 1:
            raise ValueError("KeypointHead: in_channels, num_keypoints and channels must all be >= 1")
        self.num_keypoints = num_keypoints
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_channels, channels, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, num_keypoints, kernel_size=1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """F ``(B, C, h, w)`` -> heatmaps ``(B, N, 2h, 2w)``."""
        return self.layers(features)
