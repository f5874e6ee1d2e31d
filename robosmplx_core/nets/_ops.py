"""Export-friendly tensor math used inside the networks (no Python branching on values).

``rot6d_to_rotmat_export`` computes exactly ``geometry.rotations.rot6d_to_matrix`` (6D = the
first two COLUMNS of R, Gram-Schmidt) but with ``torch`` ops that the ONNX exporter supports
(no ``torch.cross``, no ``reshape(-1, ...)`` that fails on empty batches) and a tiny norm clamp
so that a zero 6D vector gives a finite (non-rotation) matrix instead of NaN.

``mirror_rotmat`` conjugates rotations by the x-flip ``M = diag(-1, 1, 1)``: ``M R M``. It maps
the parent-relative rotations of a horizontally mirrored limb (a left hand cropped and flipped
to look like a right hand) back to the unmirrored side; in axis-angle it is
``(x, y, z) -> (x, -y, -z)``. It is its own inverse.
"""

from __future__ import annotations

import torch

_NORM_EPS = 1e-8
_MIRROR_SIGNS = ((1.0, -1.0, -1.0), (-1.0, 1.0, 1.0), (-1.0, 1.0, 1.0))  # entries of M R M / R


def rot6d_to_rotmat_export(rot6d: torch.Tensor) -> torch.Tensor:
    """``(..., 6)`` two columns ``[R00, R10, R20, R01, R11, R21]`` -> ``(..., 3, 3)``."""
    a1, a2 = rot6d[..., 0:3], rot6d[..., 3:6]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(_NORM_EPS)
    a2 = a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(_NORM_EPS)
    b3 = torch.stack(
        [
            b1[..., 1] * b2[..., 2] - b1[..., 2] * b2[..., 1],
            b1[..., 2] * b2[..., 0] - b1[..., 0] * b2[..., 2],
            b1[..., 0] * b2[..., 1] - b1[..., 1] * b2[..., 0],
        ],
        dim=-1,
    )
    return torch.stack([b1, b2, b3], dim=-1)


def mirror_rotmat(rotmat: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` -> ``M R M`` with ``M = diag(-1, 1, 1)`` (left <-> right mirroring)."""
    signs = torch.tensor(_MIRROR_SIGNS, dtype=rotmat.dtype, device=rotmat.device)
    return rotmat * signs


def identity_rot6d(count: int) -> torch.Tensor:
    """``(count * 6,)`` flat 6D of ``count`` identity rotations (regressor bias init)."""
    return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).repeat(count)
