"""Keypoint losses: L_3D (root-aligned 3D joints) and L_2D (projected joints), paper sec. 4.1.

Conventions:
    - 3D joints in metres, camera frame = OpenCV / ROS optical (x right, y down, z forward);
    - **normalised crop coordinates**: every 2D loss is computed in ``[-1, 1]`` across the crop
      (x right, y down, ``(0, 0)`` at the crop centre), i.e. ``x_n = 2 u / W - 1`` and
      ``y_n = 2 v / H - 1`` for continuous pixel coordinates ``(u, v)`` of a ``W x H`` crop
      (see ``geometry.projection``). The weak-perspective camera ``[s, tx, ty]`` (HMR/SPIN)
      projects to these coordinates directly, and perspective projections are normalised to
      them, so one weight ``lambda_2D`` means the same for both cameras and any crop size;
    - weights ``(B, J)`` are per-joint confidence / visibility; joints missing in the GT must be
      filled with any finite value (e.g. 0) and given weight 0 (NaN targets are rejected);
    - reduction: weighted mean over the coordinates of weighted joints (``losses._common``).

Glossary: B batch, J joints.
"""

from __future__ import annotations

import torch

from robosmplx_core.checks import check_finite, check_shape
from robosmplx_core.geometry.projection import DEPTH_EPS_M, perspective_projection
from robosmplx_core.losses._common import (
    RootIndex,
    as_weights,
    check_float_tensor,
    check_pair,
    root_align,
    weighted_mean,
)

__all__ = [
    "keypoints_3d_loss",
    "keypoints_2d_loss",
    "perspective_keypoints_2d_loss",
    "weak_perspective_keypoints_2d_loss",
    "weak_perspective_projection",
    "pixels_to_normalized",
]


def keypoints_3d_loss(
    pred_joints: torch.Tensor,
    gt_joints: torch.Tensor,
    gt_weights: torch.Tensor | None = None,
    *,
    root_index: RootIndex = 0,
) -> torch.Tensor:
    """L_3D: L1 distance between root-aligned predicted and GT 3D joints.

    Both joint sets are aligned on their own root (``root_index``: pelvis for the body, wrist
    for the hand, neck for the face; ``None`` compares them as given). A sample whose GT root has
    weight 0 cannot be aligned and is dropped.

    Args:
        pred_joints: ``(B, J, 3)`` joints regressed from the predicted body model (metres).
        gt_joints: ``(B, J, 3)`` ground-truth joints (metres, finite).
        gt_weights: ``(B, J)`` per-joint confidence/visibility (bool or float >= 0; 0 for
            joints missing in the GT); ``None`` weights every joint 1.
        root_index: see ``losses._common.RootIndex``.

    Returns:
        Scalar: ``sum_bjc w_bj |pred_bjc - gt_bjc| / (3 sum_bj w_bj)`` (metres).

    Raises:
        ValueError: shape mismatch, NaN/inf in the targets, negative weights, bad root index.
    """
    dims = check_pair(pred_joints, gt_joints, "B J 3", pred_name="pred_joints", gt_name="gt_joints")
    weights = as_weights(gt_weights, "B J", name="gt_weights", dims=dims, like=pred_joints)
    gt_aligned, weights = root_align(gt_joints, root_index, weights, name="root_index")
    pred_aligned, _ = root_align(pred_joints, root_index, name="root_index")
    return weighted_mean((pred_aligned - gt_aligned).abs(), weights)


def keypoints_2d_loss(
    pred_keypoints_2d: torch.Tensor,
    gt_keypoints_2d: torch.Tensor,
    gt_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """L1 distance between 2D keypoints already in the same (normalised crop) coordinates.

    Args:
        pred_keypoints_2d: ``(B, J, 2)`` projected predicted joints.
        gt_keypoints_2d: ``(B, J, 2)`` ground-truth keypoints (finite).
        gt_weights: ``(B, J)`` per-joint confidence/visibility; ``None`` = all 1.

    Returns:
        Scalar weighted mean of ``|pred - gt|`` over the 2 coordinates of weighted joints.
    """
    dims = check_pair(
        pred_keypoints_2d, gt_keypoints_2d, "B J 2",
        pred_name="pred_keypoints_2d", gt_name="gt_keypoints_2d",
    )  # fmt: skip
    weights = as_weights(gt_weights, "B J", name="gt_weights", dims=dims, like=pred_keypoints_2d)
    return weighted_mean((pred_keypoints_2d - gt_keypoints_2d).abs(), weights)


def pixels_to_normalized(
    points_px: torch.Tensor, image_size_wh: tuple[float, float] | torch.Tensor
) -> torch.Tensor:
    """Continuous pixel coordinates -> normalised crop coordinates ``[-1, 1]``.

    Args:
        points_px: ``(B, N, 2)`` pixel coordinates ``(u, v)`` of a ``W x H`` image.
        image_size_wh: ``(W, H)`` shared by the batch, or a ``(B, 2)`` tensor.

    Returns:
        ``(B, N, 2)`` with ``x_n = 2 u / W - 1``, ``y_n = 2 v / H - 1``.
    """
    check_float_tensor(points_px, name="points_px")
    dims = check_shape(points_px, "B N 2", name="points_px")
    size = torch.as_tensor(image_size_wh, dtype=points_px.dtype, device=points_px.device)
    if size.ndim == 1:
        check_shape(size, "2", name="image_size_wh")
        size = size.expand(dims["B"], 2)
    check_shape(size, "B 2", name="image_size_wh", dims=dims)
    if size.numel() and bool((size <= 0).any()):
        raise ValueError(f"image_size_wh: expected positive (W, H) in pixels, got {size[0].tolist()}")
    return 2.0 * points_px / size[:, None, :] - 1.0


def weak_perspective_projection(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Weak-perspective crop camera (HMR/SPIN): ``x_n = s * (X_xy + [tx, ty])``.

    Args:
        points: ``(B, N, 3)`` body-frame points (metres); depth is ignored.
        cam: ``(B, 3)`` predicted ``[s, tx, ty]``.

    Returns:
        ``(B, N, 2)`` normalised crop coordinates (``[-1, 1]`` spans a square crop).
    """
    check_float_tensor(points, name="points")
    check_float_tensor(cam, name="cam")
    dims = check_shape(points, "B N 3", name="points")
    check_shape(cam, "B 3", name="cam", dims=dims)
    return cam[:, None, 0:1] * (points[..., :2] + cam[:, None, 1:3])


def perspective_keypoints_2d_loss(
    pred_joints_cam: torch.Tensor,
    gt_keypoints_2d_px: torch.Tensor,
    gt_weights: torch.Tensor | None = None,
    *,
    K: torch.Tensor,
    image_size_wh: tuple[float, float] | torch.Tensor,
) -> torch.Tensor:
    """L_2D with perspective projection (paper sec. 4.1): project, normalise, L1.

    Predicted joints closer than ``DEPTH_EPS_M`` to the camera plane (or behind it) are left out
    (weight 0): their projection is meaningless and its gradient ``f / z`` would explode; the
    3D and parameter losses still act on them.

    Args:
        pred_joints_cam: ``(B, J, 3)`` predicted joints in the crop camera frame (metres), i.e.
            body-model joints plus the predicted camera translation.
        gt_keypoints_2d_px: ``(B, J, 2)`` GT keypoints in pixels of the crop (finite).
        gt_weights: ``(B, J)`` per-joint confidence/visibility; ``None`` = all 1.
        K: ``(B, 3, 3)`` crop intrinsics, or one ``(3, 3)`` for the batch.
        image_size_wh: crop size ``(W, H)`` in pixels, or ``(B, 2)``.

    Returns:
        Scalar L1 in normalised crop coordinates (see module docstring).
    """
    check_float_tensor(pred_joints_cam, name="pred_joints_cam")
    check_float_tensor(gt_keypoints_2d_px, name="gt_keypoints_2d_px")
    dims = check_shape(pred_joints_cam, "B J 3", name="pred_joints_cam")
    check_shape(gt_keypoints_2d_px, "B J 2", name="gt_keypoints_2d_px", dims=dims)
    check_finite(gt_keypoints_2d_px, name="gt_keypoints_2d_px")
    check_float_tensor(K, name="K")
    check_finite(K, name="K")
    weights = as_weights(gt_weights, "B J", name="gt_weights", dims=dims, like=pred_joints_cam)
    in_front = (pred_joints_cam[..., 2].detach() > DEPTH_EPS_M).to(weights.dtype)
    pred_px = perspective_projection(pred_joints_cam, K)
    pred_n = pixels_to_normalized(pred_px, image_size_wh)
    gt_n = pixels_to_normalized(gt_keypoints_2d_px, image_size_wh)
    return keypoints_2d_loss(pred_n, gt_n, weights * in_front)


def weak_perspective_keypoints_2d_loss(
    pred_joints: torch.Tensor,
    pred_cam: torch.Tensor,
    gt_keypoints_2d: torch.Tensor,
    gt_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """L_2D with the weak-perspective crop camera ``[s, tx, ty]`` (HMR/SPIN variant).

    Args:
        pred_joints: ``(B, J, 3)`` body-frame joints from the predicted body model (metres).
        pred_cam: ``(B, 3)`` predicted ``[s, tx, ty]``.
        gt_keypoints_2d: ``(B, J, 2)`` GT keypoints in normalised crop coordinates ``[-1, 1]``
            (convert pixels with ``pixels_to_normalized``).
        gt_weights: ``(B, J)`` per-joint confidence/visibility; ``None`` = all 1.

    Returns:
        Scalar L1 in normalised crop coordinates.
    """
    return keypoints_2d_loss(weak_perspective_projection(pred_joints, pred_cam), gt_keypoints_2d, gt_weights)
