"""Pinhole projection, intrinsics and the weak-perspective camera.

Conventions:
    - camera frame = OpenCV / ROS optical frame: x right, y down, z forward (metres);
    - ``K`` is the 3x3 pinhole matrix ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` mapping camera
      coordinates to pixels: ``u = fx * x / z + s * y / z + cx``, ``v = fy * y / z + cy``;
    - pixel coordinates are continuous: the image spans ``[0, W] x [0, H]`` and its centre is
      ``(W / 2, H / 2)`` (the HMR/SPIN/CLIFF convention; OpenCV's integer pixel centres put the
      centre at ``((W - 1) / 2, (H - 1) / 2)``, half a pixel away);
    - field-of-view angles are given in degrees (``fov_deg``), everything else in radians;
    - weak-perspective camera ``[s, tx, ty]`` (HMR/SPIN): a point ``X`` of the body projects to
      normalised crop coordinates ``s * (X_xy + [tx, ty])`` in ``[-1, 1]`` across the crop.

Glossary: B batch, N points.
"""

from __future__ import annotations

import math

import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry._checks import check_tensor

__all__ = [
    "DEPTH_EPS_M",
    "DEFAULT_FOV_DEG",
    "perspective_projection",
    "weak_perspective_to_translation",
    "focal_from_fov",
    "intrinsics_from_fov",
    "default_intrinsics",
]

DEPTH_EPS_M = 1e-4
"""Smallest depth used when dividing by z: points with ``z <= DEPTH_EPS_M`` (behind or on the
camera plane) are projected as if at ``z = DEPTH_EPS_M``; their pixels are finite but
meaningless, so mask them with ``points[..., 2] > 0`` downstream."""

DEFAULT_FOV_DEG = 60.0
"""Default horizontal field of view (degrees) when no calibration is known: a typical webcam
(most lie between 55 and 78 degrees)."""


def perspective_projection(points: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Project camera-frame points to pixels with a pinhole camera.

    Args:
        points: ``(B, N, 3)`` points in the camera frame (metres).
        K: ``(B, 3, 3)`` intrinsics, or one ``(3, 3)`` matrix shared by the batch.

    Returns:
        ``(B, N, 2)`` pixel coordinates ``(u, v)``. Depths are clamped to ``DEPTH_EPS_M``.
    """
    check_tensor(points, name="points")
    check_tensor(K, name="K")
    dims = check_shape(points, "B N 3", name="points")
    if K.ndim == 2:
        check_shape(K, "3 3", name="K")
        K = K.expand(dims["B"], 3, 3)
    check_shape(K, "B 3 3", name="K", dims=dims)
    z = points[..., 2:3].clamp(min=DEPTH_EPS_M)
    xy1 = torch.cat([points[..., :2] / z, torch.ones_like(z)], dim=-1)  # (B, N, 3)
    uvw = torch.einsum("bij,bnj->bni", K.to(points.dtype), xy1)
    return uvw[..., :2]


def weak_perspective_to_translation(
    cam: torch.Tensor, focal_px: float | torch.Tensor, crop_size_px: float | torch.Tensor
) -> torch.Tensor:
    """Weak-perspective crop camera ``[s, tx, ty]`` -> translation in the crop's camera frame.

    A pinhole camera of focal ``f`` centred on the crop maps ``X`` to normalised crop
    coordinates ``2 f (X_xy + t_xy) / (t_z * crop)``; matching ``s (X_xy + [tx, ty])`` gives
    ``t = [tx, ty, 2 f / (s * crop)]`` (HMR/SPIN convention). ``s`` is clamped to
    ``>= 1e-6`` so the depth stays finite and positive.

    Args:
        cam: ``(B, 3)`` predicted ``[s, tx, ty]``.
        focal_px: focal length in pixels of the crop camera, a float or ``(B,)``.
        crop_size_px: side of the square crop in pixels, a float or ``(B,)``.

    Returns:
        ``(B, 3)`` translation ``[tx, ty, tz]`` in metres (model units).
    """
    check_tensor(cam, name="cam")
    check_shape(cam, "B 3", name="cam")
    scale = cam[:, 0].clamp(min=1e-6)
    focal = torch.as_tensor(focal_px, dtype=cam.dtype, device=cam.device)
    crop = torch.as_tensor(crop_size_px, dtype=cam.dtype, device=cam.device)
    tz = 2.0 * focal / (scale * crop)
    return torch.stack([cam[:, 1], cam[:, 2], tz], dim=-1)


def focal_from_fov(size_px: float, fov_deg: float) -> float:
    """Focal length in pixels for an image side ``size_px`` spanning ``fov_deg`` degrees."""
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"fov_deg: expected a field of view in (0, 180) degrees, got {fov_deg}")
    if size_px <= 0:
        raise ValueError(f"size_px: expected a positive image size in pixels, got {size_px}")
    return 0.5 * size_px / math.tan(math.radians(fov_deg) / 2.0)


def intrinsics_from_fov(
    width: int,
    height: int,
    fov_deg: float,
    *,
    fov_axis: str = "horizontal",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Intrinsics ``(3, 3)`` of a square-pixel camera with the principal point at the centre.

    Args:
        width, height: image size in pixels.
        fov_deg: field of view in degrees along ``fov_axis``.
        fov_axis: ``"horizontal"`` (across ``width``) or ``"vertical"`` (across ``height``).
        dtype: output dtype.

    Returns:
        ``(3, 3)`` ``K`` with ``fx = fy`` and ``(cx, cy) = (width / 2, height / 2)``.
    """
    sizes = {"horizontal": width, "vertical": height}
    if fov_axis not in sizes:
        raise ValueError(f"fov_axis: expected 'horizontal' or 'vertical', got {fov_axis!r}")
    if width <= 0 or height <= 0:
        raise ValueError(f"width, height: expected positive pixel sizes, got {width}x{height}")
    focal = focal_from_fov(sizes[fov_axis], fov_deg)
    return torch.tensor(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]], dtype=dtype
    )


def default_intrinsics(
    width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Intrinsics ``(3, 3)`` to use when no calibration is known.

    Horizontal field of view ``fov_deg`` (default ``DEFAULT_FOV_DEG`` = 60 degrees), square
    pixels, principal point at the image centre.
    """
    return intrinsics_from_fov(width, height, fov_deg, fov_axis="horizontal", dtype=dtype)
