"""Which limb is which: left/right keypoint pairs ordered by the image, then named by the facing.

The 2D keypoint stage (``nets.keypoints``) finds both limbs of a left/right pair early, but on
this project's CPU budget it does not learn which of the two is the person's left: its left
and right heatmaps both show both blobs, and decoding each heatmap alone returns a point between
them (README, "Learning check"). What the image does fix is their order along x, and the facing
branch (``nets.facing``) says how that order maps to the person's sides: a person facing the
camera has their right limbs on the image's left.

``decode_pairs_by_x`` decodes the sum of each pair's two heatmaps into its image-left and
image-right points: the cells above ``floor`` of the peak are split at their weighted mean x
and each half is decoded as in ``decode_heatmaps``. One blob (the limbs overlap in the image)
would split into two halves of itself; when the halves' centres lie within ``merge_cells``
cells the two points are drawn to the blob's centre (fully at ``merge_cells``, not at all from
twice that). ``assign_sides`` then names them with the facing probability ``p``: right =
``p`` image-left + ``(1 - p)`` image-right, left the other way round. Both export to ONNX
(comparisons, ReduceSum, Gather; no data-dependent shapes).

Coordinates are the keypoint stage's normalised ``[-1, 1]`` crop coordinates.

Glossary: B batch, N keypoints, P left/right pairs, H x W heatmap side.
"""

from __future__ import annotations

from typing import Sequence

import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.nets.localization import axis_centres

__all__ = ["assign_sides", "decode_pairs_by_x", "side_pairs"]


def side_pairs(names: Sequence[str]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Indices of the ``left_x`` / ``right_x`` pairs among ``names``: (left indices, right indices)."""
    names = list(names)
    pairs = [(i, names.index("right_" + n[5:])) for i, n in enumerate(names)
             if n.startswith("left_") and "right_" + n[5:] in names]  # fmt: skip
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _masked_mean(weights: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Weighted mean cell centre of ``weights (B, P, H, W)`` -> x, y, mass, each ``(B, P)``."""
    mass = weights.sum(dim=(2, 3))
    x = (weights.sum(dim=2) * cx).sum(dim=-1) / mass.clamp(min=1e-12)
    y = (weights.sum(dim=3) * cy).sum(dim=-1) / mass.clamp(min=1e-12)
    return x, y, mass


def decode_pairs_by_x(heatmaps: torch.Tensor, left: Sequence[int], right: Sequence[int], *, floor: float = 0.5,
                      merge_cells: float = 1.5) -> torch.Tensor:  # fmt: skip
    """Heatmaps ``(B, N, H, W)`` -> ``(B, P, 2, 2)``: per pair ``(left[k], right[k])``, its image-left
    then image-right point (x, y), module docstring. An all-zero pair decodes to the centre."""
    check_shape(heatmaps, "B N H W", name="heatmaps")
    if len(left) != len(right) or not 0.0 <= floor < 1.0 or not merge_cells > 0:
        raise ValueError("decode_pairs_by_x: left and right of one length, floor in [0, 1) and merge_cells > 0 "
                         f"expected, got {len(left)} / {len(right)}, {floor}, {merge_cells}")
    summed = heatmaps[:, list(left)] + heatmaps[:, list(right)]
    weights = torch.relu(summed - floor * summed.amax(dim=(2, 3), keepdim=True).clamp(min=0.0))
    cx, cy = axis_centres(heatmaps.shape[3], heatmaps), axis_centres(heatmaps.shape[2], heatmaps)
    mx, my, _ = _masked_mean(weights, cx, cy)
    on_left = (cx < mx[..., None]).to(weights.dtype)[:, :, None, :]  # (B, P, 1, W)
    points = []
    for mask in (on_left, 1.0 - on_left):
        x, y, mass = _masked_mean(weights * mask, cx, cy)
        has = mass > 0
        points.append(torch.stack([torch.where(has, x, mx), torch.where(has, y, my)], dim=-1))
    centre = torch.stack([mx, my], dim=-1)[:, :, None]  # (B, P, 1, 2)
    split = torch.stack(points, dim=2)  # (B, P, 2, 2)
    cell = 2.0 / heatmaps.shape[3]
    gap = (split[:, :, 1, 0] - split[:, :, 0, 0]) / cell  # (B, P) cells between the halves
    spread = ((gap - merge_cells) / merge_cells).clamp(0.0, 1.0)[..., None, None]
    return centre + spread * (split - centre)


def assign_sides(keypoints: torch.Tensor, pairs_xy: torch.Tensor, facing_prob: torch.Tensor,
                 left: Sequence[int], right: Sequence[int]) -> torch.Tensor:  # fmt: skip
    """Keypoints ``(B, N, 2)`` with each pair ``(left[k], right[k])`` replaced by its image-ordered
    points ``pairs_xy (B, P, 2, 2)`` named by the facing probability ``facing_prob (B,)`` (module
    docstring). ``facing_prob`` 0 keeps the image order (left slot = image-left point)."""
    check_shape(keypoints, "B N 2", name="keypoints")
    p = facing_prob.to(keypoints.dtype)[:, None, None]
    image_left, image_right = pairs_xy[:, :, 0], pairs_xy[:, :, 1]
    lefts = p * image_right + (1.0 - p) * image_left
    rights = p * image_left + (1.0 - p) * image_right
    n, count = keypoints.shape[1], len(left)
    order = list(range(n))  # slot -> index into cat([keypoints, lefts, rights])
    for k, (i, j) in enumerate(zip(left, right)):
        order[i], order[j] = n + k, n + count + k
    return torch.cat([keypoints, lefts, rights], dim=1)[:, order]
