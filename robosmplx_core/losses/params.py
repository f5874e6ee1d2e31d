"""L_BM: L1 distance between predicted and GT body-model parameters (paper sec. 4.1).

Conventions:
    - rotations are compared as **rotation matrices** ``(..., 3, 3)`` (L1 on the 9 entries);
      6D inputs ``(..., 6)`` (two columns of ``R``, see ``geometry.rotations``) are first mapped
      to matrices by Gram-Schmidt, so an unnormalised 6D prediction is judged by the rotation it
      encodes and prediction and target may use different representations;
    - betas / expression coefficients are compared entry by entry;
    - masks: a per-sample mask ``(B,)`` (or per-rotation ``(B, R)``) of 0/1 or weights marks the
      samples that have parameter GT; unmarked samples must still hold finite placeholder values;
    - reduction: weighted mean over the entries of masked-in samples (``losses._common``).

Glossary: B batch, R rotations, C coefficients.
"""

from __future__ import annotations

import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry.rotations import rot6d_to_matrix
from robosmplx_core.losses._common import as_weights, check_float_tensor, check_pair, weighted_mean

__all__ = ["rotation_loss", "coefficient_loss", "body_model_param_loss"]


def _as_rotmat(rotations: torch.Tensor, *, name: str) -> torch.Tensor:
    """``(B, R, 3, 3)`` unchanged, or ``(B, R, 6)`` -> ``(B, R, 3, 3)``."""
    check_float_tensor(rotations, name=name)
    if rotations.ndim == 3 and rotations.shape[-1] == 6:
        return rot6d_to_matrix(rotations)
    if rotations.ndim == 4 and rotations.shape[-2:] == (3, 3):
        return rotations
    raise ValueError(
        f"{name}: expected rotation matrices (B, R, 3, 3) or 6D rotations (B, R, 6), got "
        f"{tuple(rotations.shape)}; convert axis-angle with geometry.rotations.axis_angle_to_matrix"
    )


def _mask_for(
    gt_mask: torch.Tensor | None, dims: dict[str, int], like: torch.Tensor, *, name: str
) -> torch.Tensor:
    """A ``(B,)`` or ``(B, R)`` mask -> ``(B, R)`` weights (all ones for ``None``)."""
    if isinstance(gt_mask, torch.Tensor) and gt_mask.ndim == 1:
        return as_weights(gt_mask, "B", name=name, dims=dims, like=like)[:, None].expand(dims["B"], dims["R"])
    return as_weights(gt_mask, "B R", name=name, dims=dims, like=like)


def rotation_loss(
    pred_rotations: torch.Tensor,
    gt_rotations: torch.Tensor,
    gt_mask: torch.Tensor | None = None,
    *,
    names: tuple[str, str] = ("pred_rotations", "gt_rotations"),
) -> torch.Tensor:
    """L1 between predicted and GT rotations, compared as rotation matrices.

    Args:
        pred_rotations: ``(B, R, 3, 3)`` or ``(B, R, 6)``.
        gt_rotations: ``(B, R, 3, 3)`` or ``(B, R, 6)`` (finite).
        gt_mask: ``(B,)`` per-sample or ``(B, R)`` per-rotation validity; ``None`` = all valid.
        names: field names used in error messages.

    Returns:
        Scalar mean of ``|R_pred - R_gt|`` over the 9 entries of the valid rotations.
    """
    pred = _as_rotmat(pred_rotations, name=names[0])
    gt = _as_rotmat(gt_rotations, name=names[1])
    dims = check_pair(pred, gt, "B R 3 3", pred_name=names[0], gt_name=names[1])
    weights = _mask_for(gt_mask, dims, pred, name=f"{names[1]} mask")
    return weighted_mean((pred - gt).abs(), weights)


def coefficient_loss(
    pred_coeffs: torch.Tensor,
    gt_coeffs: torch.Tensor,
    gt_mask: torch.Tensor | None = None,
    *,
    names: tuple[str, str] = ("pred_coeffs", "gt_coeffs"),
) -> torch.Tensor:
    """L1 between predicted and GT coefficient vectors (betas or expression).

    Args:
        pred_coeffs: ``(B, C)``.
        gt_coeffs: ``(B, C)`` (finite).
        gt_mask: ``(B,)`` per-sample validity; ``None`` = all valid.
        names: field names used in error messages.

    Returns:
        Scalar mean of ``|pred - gt|`` over the C entries of the valid samples.
    """
    dims = check_pair(pred_coeffs, gt_coeffs, "B C", pred_name=names[0], gt_name=names[1])
    weights = as_weights(gt_mask, "B", name=f"{names[1]} mask", dims=dims, like=pred_coeffs)
    return weighted_mean((pred_coeffs - gt_coeffs).abs(), weights)


def body_model_param_loss(
    *,
    pred_rotations: torch.Tensor,
    gt_rotations: torch.Tensor,
    pred_betas: torch.Tensor | None = None,
    gt_betas: torch.Tensor | None = None,
    pred_expression: torch.Tensor | None = None,
    gt_expression: torch.Tensor | None = None,
    gt_mask: torch.Tensor | None = None,
    betas_weight: float = 1.0,
    expression_weight: float = 1.0,
) -> torch.Tensor:
    """L_BM = L1(rotations) + betas_weight * L1(betas) + expression_weight * L1(expression).

    Each group is its own weighted mean (``rotation_loss``, ``coefficient_loss``), so a group's
    size does not change its share. A group is skipped when its prediction is ``None`` or its
    weight is 0; giving a prediction without its target is an error.

    Args:
        pred_rotations, gt_rotations: ``(B, R, 3, 3)`` or ``(B, R, 6)``.
        pred_betas, gt_betas: ``(B, C_beta)`` shape coefficients, or ``None``.
        pred_expression, gt_expression: ``(B, C_expr)`` expression coefficients, or ``None``.
        gt_mask: ``(B,)`` 1 for samples with body-model GT, 0 without; ``None`` = all.
        betas_weight, expression_weight: relative weights of the coefficient groups.

    Returns:
        Scalar loss.
    """
    if gt_mask is not None:
        check_shape(gt_mask, "B", name="gt_mask")
    loss = rotation_loss(pred_rotations, gt_rotations, gt_mask)
    groups = (
        ("betas", pred_betas, gt_betas, betas_weight),
        ("expression", pred_expression, gt_expression, expression_weight),
    )
    for label, pred, gt, weight in groups:
        if pred is None or weight == 0.0:
            continue
        if gt is None:
            raise ValueError(f"gt_{label}: missing while pred_{label} is given; pass it or pred_{label}=None")
        names = (f"pred_{label}", f"gt_{label}")
        loss = loss + weight * coefficient_loss(pred, gt, gt_mask, names=names)
    return loss
