"""Rotation conversions on torch tensors with any leading batch dimensions ``...``.

Conventions (the whole package uses them):
    - angles in radians;
    - rotation matrices act on column vectors: ``x' = R @ x``;
    - axis-angle (rotation vector) ``(..., 3)``: unit axis times angle, angle in ``[0, pi]``;
    - quaternions ``(..., 4)`` in **xyzw** order (scalar last), as roma, scipy and ROS
      ``geometry_msgs/Quaternion``; outputs are unit norm with ``w >= 0``;
    - 6D rotation (Zhou et al., CVPR 2019) ``(..., 6)`` = the first two COLUMNS of ``R``,
      column after column: ``[R00, R10, R20, R01, R11, R21]``. This differs from pytorch3d
      (first two rows) and from SPIN/HMR2 (``view(3, 2)``, i.e. ``[R00, R01, R10, R11, R20, R21]``):
      convert explicitly when loading their weights or outputs.

The numerical work is done by ``roma`` (stable near angle 0 and pi, differentiable); these
functions add shape/type checks with clear errors and fix the layouts above.
"""

from __future__ import annotations

import roma
import torch

from robosmplx_core.geometry._checks import check_tensor, check_trailing

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_rot6d",
    "rot6d_to_matrix",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "axis_angle_to_quaternion",
    "quaternion_to_axis_angle",
    "geodesic_angle",
]


def _canonical_quaternion(quat_xyzw: torch.Tensor) -> torch.Tensor:
    """Flip quaternions with ``w < 0`` so that ``w >= 0`` (same rotation, unique sign)."""
    sign = torch.where(quat_xyzw[..., 3:] < 0, -1.0, 1.0).to(quat_xyzw.dtype)
    return quat_xyzw * sign


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rotation vectors ``(..., 3)`` -> rotation matrices ``(..., 3, 3)`` (Rodrigues).

    Small angles use a first-order expansion (roma), so the output and its gradient are
    finite at zero.
    """
    check_tensor(axis_angle, name="axis_angle")
    check_trailing(axis_angle, "3", name="axis_angle")
    return roma.rotvec_to_rotmat(axis_angle)


def matrix_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> rotation vectors ``(..., 3)``, angle in ``[0, pi]``.

    At exactly pi the axis sign is arbitrary (both describe the same rotation).
    """
    check_tensor(rotmat, name="rotmat")
    check_trailing(rotmat, "3 3", name="rotmat")
    return roma.rotmat_to_rotvec(rotmat)


def matrix_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> 6D ``(..., 6)`` = ``[first column, second column]``."""
    check_tensor(rotmat, name="rotmat")
    check_trailing(rotmat, "3 3", name="rotmat")
    return torch.cat([rotmat[..., :, 0], rotmat[..., :, 1]], dim=-1)


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """6D ``(..., 6)`` (two columns, see module docstring) -> rotation matrices ``(..., 3, 3)``.

    Gram-Schmidt: column 0 = a1 / |a1|; column 1 = a2 minus its component on column 0,
    normalised; column 2 = column 0 x column 1. Colinear or zero inputs are ill-defined and
    give NaN; networks never produce them in practice.
    """
    check_tensor(rot6d, name="rot6d")
    check_trailing(rot6d, "6", name="rot6d")
    columns = torch.stack([rot6d[..., 0:3], rot6d[..., 3:6]], dim=-1)  # (..., 3, 2)
    return roma.special_gramschmidt(columns)


def quaternion_to_matrix(quat_xyzw: torch.Tensor) -> torch.Tensor:
    """Quaternions ``(..., 4)`` in xyzw order -> rotation matrices ``(..., 3, 3)``.

    The input is normalised first, so any non-zero quaternion is accepted.
    """
    check_tensor(quat_xyzw, name="quat_xyzw")
    check_trailing(quat_xyzw, "4", name="quat_xyzw")
    return roma.unitquat_to_rotmat(roma.quat_normalize(quat_xyzw))


def matrix_to_quaternion(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> unit quaternions ``(..., 4)``, xyzw, ``w >= 0``."""
    check_tensor(rotmat, name="rotmat")
    check_trailing(rotmat, "3 3", name="rotmat")
    return _canonical_quaternion(roma.rotmat_to_unitquat(rotmat))


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rotation vectors ``(..., 3)`` -> unit quaternions ``(..., 4)``, xyzw, ``w >= 0``."""
    check_tensor(axis_angle, name="axis_angle")
    check_trailing(axis_angle, "3", name="axis_angle")
    return _canonical_quaternion(roma.rotvec_to_unitquat(axis_angle))


def quaternion_to_axis_angle(quat_xyzw: torch.Tensor) -> torch.Tensor:
    """Quaternions ``(..., 4)`` in xyzw order -> rotation vectors ``(..., 3)``, angle <= pi.

    The input is normalised first; ``q`` and ``-q`` give the same (shortest-arc) result.
    """
    check_tensor(quat_xyzw, name="quat_xyzw")
    check_trailing(quat_xyzw, "4", name="quat_xyzw")
    return roma.unitquat_to_rotvec(roma.quat_normalize(quat_xyzw), shortest_arc=True)


def geodesic_angle(rotmat_a: torch.Tensor, rotmat_b: torch.Tensor) -> torch.Tensor:
    """Angle in radians ``(...)`` of the relative rotation between ``(..., 3, 3)`` matrices.

    In ``[0, pi]``; leading dimensions broadcast. The gradient is infinite at exactly 0 and
    pi (an ``asin`` at 1); for a training loss on near-identical rotations prefer a Frobenius
    or 6D distance.
    """
    check_tensor(rotmat_a, name="rotmat_a")
    check_tensor(rotmat_b, name="rotmat_b")
    check_trailing(rotmat_a, "3 3", name="rotmat_a")
    check_trailing(rotmat_b, "3 3", name="rotmat_b")
    return roma.rotmat_geodesic_distance(rotmat_a, rotmat_b)
