"""Checks and reductions shared by the loss modules (private).

Reduction rule used by every masked loss: a *weighted mean* ``sum(w * err) / sum(w)``, where the
denominator counts every coordinate of every weighted element. Elements with weight 0 therefore
neither add to the numerator nor dilute the mean, and a batch with no weight at all (or an empty
batch, ``B = 0``) gives exactly ``0`` while keeping the autograd graph to the prediction (its
gradient is zero, never NaN).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from robosmplx_core.checks import check_finite, check_shape

WEIGHT_SUM_EPS = 1e-6
"""Smallest denominator of a weighted mean; it only matters when every weight is 0 (result 0)."""

RootIndex = int | Sequence[int] | None
"""Root joint(s) for root alignment: one index, several (their mean is the root, e.g. both hips),
or ``None`` for no alignment."""


def check_float_tensor(x: object, *, name: str) -> torch.Tensor:
    """Raise ``TypeError`` unless ``x`` is a floating-point ``torch.Tensor``; return it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor, got {type(x).__name__}; "
            "convert with torch.as_tensor(x, dtype=torch.float32)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {x.dtype}; use x.float()")
    return x


def check_pair(
    pred: object, gt: object, spec: str, *, pred_name: str, gt_name: str, dims: dict[str, int] | None = None
) -> dict[str, int]:
    """Check a prediction/target pair of the same shape ``spec``; the target must be finite.

    Returns:
        The symbolic sizes bound by ``spec``.
    """
    check_float_tensor(pred, name=pred_name)
    check_float_tensor(gt, name=gt_name)
    bound = check_shape(pred, spec, name=pred_name, dims=dims)
    bound = check_shape(gt, spec, name=gt_name, dims=bound)
    check_finite(gt, name=gt_name)
    return bound


def as_weights(
    weights: torch.Tensor | None, spec: str, *, name: str, dims: dict[str, int], like: torch.Tensor
) -> torch.Tensor:
    """Validate per-element weights (bool/int/float, finite, ``>= 0``) and cast them like ``like``.

    ``None`` means all ones, of the shape ``spec`` resolved with ``dims``.
    """
    if weights is None:
        shape = tuple(int(tok) if tok.isdigit() else dims[tok] for tok in spec.split())
        return torch.ones(shape, dtype=like.dtype, device=like.device)
    if not isinstance(weights, torch.Tensor):
        got = type(weights).__name__
        raise TypeError(f"{name}: expected a bool, integer or float torch.Tensor, got {got}")
    check_shape(weights, spec, name=name, dims=dims)
    if weights.is_complex():
        raise TypeError(f"{name}: expected a bool, integer or float tensor, got {weights.dtype}")
    w = weights.to(dtype=like.dtype, device=like.device)
    check_finite(w, name=name)
    if w.numel() and bool((w < 0).any()):
        raise ValueError(f"{name}: weights must be >= 0 (0 removes an element), got a negative value")
    return w


def weighted_mean(err: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(w * err) / sum(w)`` with ``weights`` broadcast over the trailing dims of ``err``.

    Args:
        err: ``(*W, *C)`` per-coordinate errors (``C`` may be empty).
        weights: ``(*W)`` non-negative weights, a prefix of ``err``'s shape.

    Returns:
        A scalar; ``0`` (with a gradient path to ``err``) when all weights are 0 or nothing is left.
    """
    extra = err.ndim - weights.ndim
    w = weights.reshape(weights.shape + (1,) * extra)
    per_weight = math.prod(err.shape[weights.ndim :])
    denom = (weights.sum() * per_weight).clamp(min=WEIGHT_SUM_EPS)
    return (err * w).sum() / denom


def _root_indices(root_index: RootIndex, num_joints: int, name: str) -> list[int]:
    roots = [root_index] if isinstance(root_index, int) else list(root_index or [])
    if not roots or any(not 0 <= r < num_joints for r in roots):
        raise ValueError(
            f"{name}: root index {root_index!r} out of range for J={num_joints} joints; "
            "pass the index of the pelvis (body), wrist (hand) or neck (face), or None"
        )
    return roots


def root_align(
    joints: torch.Tensor, root_index: RootIndex, weights: torch.Tensor | None = None, *, name: str = "joints"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Subtract the root (mean of the root joints) from every joint.

    Args:
        joints: ``(B, J, 3)`` joints.
        root_index: see ``RootIndex``; ``None`` returns the joints unchanged.
        weights: optional ``(B, J)`` weights; a sample whose root joints are not all weighted
            (> 0) cannot be aligned, so all its weights are set to 0.

    Returns:
        ``(B, J, 3)`` root-aligned joints and the updated ``(B, J)`` weights (or ``None``).
    """
    if root_index is None:
        return joints, weights
    roots = _root_indices(root_index, joints.shape[1], name)
    aligned = joints - joints[:, roots].mean(dim=1, keepdim=True)
    if weights is not None:
        root_ok = (weights[:, roots] > 0).all(dim=1, keepdim=True)
        weights = weights * root_ok.to(weights.dtype)
    return aligned, weights
