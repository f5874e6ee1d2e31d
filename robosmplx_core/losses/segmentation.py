"""Segmentation losses: L_segm (Localization Module) and L_proj (Pixel Alignment Module).

Conventions:
    - part labels ``(B, H, W)`` integers (int64; other integer dtypes are cast): ``0`` background,
      ``1..P`` body parts, ``ignore_label`` (default ``IGNORE_LABEL`` = 255) unlabelled pixels;
    - a GT map at another resolution than the prediction is resized to it by nearest-neighbour
      sampling (``mode="nearest-exact"``: pixel centres, as PIL/OpenCV nearest), so labels stay
      labels;
    - ``gt_mask`` ``(B,)`` marks the samples that have segmentation GT (0 removes a sample);
    - reduction: mean over the labelled (non-ignored) pixels of the masked-in samples.

Glossary: B batch, P parts (+1 background channel), H x W the prediction's resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robosmplx_core.checks import check_shape
from robosmplx_core.losses._common import as_weights, check_float_tensor, weighted_mean

__all__ = [
    "IGNORE_LABEL",
    "PROB_EPS",
    "resize_labels",
    "part_segmentation_loss",
    "projected_segmentation_loss",
    "silhouette_loss",
]

IGNORE_LABEL = 255
"""Label of unlabelled pixels (the usual value in 8-bit label maps); excluded from the losses."""

PROB_EPS = 1e-6
"""Rendered probabilities are clamped to ``[PROB_EPS, 1 - PROB_EPS]`` before the logs of the
binary cross-entropy: each pixel's loss stays below ~13.8 and its gradient finite (a pixel
rendered at exactly 0 or 1 gets no gradient; soft rasterisers only output those far from every
face, where there is no gradient anyway)."""


def resize_labels(gt_labels: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of integer label maps ``(B, H, W)`` -> ``(B, h, w)`` int64."""
    integer = isinstance(gt_labels, torch.Tensor) and not (
        gt_labels.is_floating_point() or gt_labels.is_complex() or gt_labels.dtype == torch.bool
    )
    if not integer:
        got = gt_labels.dtype if isinstance(gt_labels, torch.Tensor) else type(gt_labels).__name__
        raise TypeError(f"gt_labels: expected an integer (int64) label tensor, got {got}; use .long()")
    check_shape(gt_labels, "B H W", name="gt_labels")
    labels = gt_labels.long()
    if tuple(labels.shape[-2:]) == tuple(size_hw):
        return labels
    resized = F.interpolate(labels[:, None].double(), size=tuple(size_hw), mode="nearest-exact")
    return resized[:, 0].round().long()


def _prepare_labels(
    gt_labels: torch.Tensor,
    size_hw: tuple[int, int],
    dims: dict[str, int],
    like: torch.Tensor,
    *,
    num_classes: int | None,
    ignore_label: int,
    gt_mask: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize, validate and mask labels -> (labels with ignored pixels set to 0, pixel weights)."""
    labels = resize_labels(gt_labels, size_hw)
    check_shape(labels, "B H W", name="gt_labels", dims=dims)
    valid = labels != ignore_label
    if labels.numel():
        bad = valid & ((labels < 0) | (labels >= (num_classes if num_classes is not None else 2**62)))
        if bool(bad.any()):
            found = labels[bad][0].item()
            limit = f"[0, {num_classes - 1}]" if num_classes is not None else ">= 0"
            raise ValueError(
                f"gt_labels: labels must be in {limit} (0 = background) or ignore_label={ignore_label}, "
                f"found {found}; check the part count P of the GT and of the prediction (P + 1 channels)"
            )
    sample_w = as_weights(gt_mask, "B", name="gt_mask", dims=dims, like=like)
    weights = valid.to(like.dtype) * sample_w[:, None, None]
    return labels.masked_fill(~valid, 0), weights


def part_segmentation_loss(
    pred_logits: torch.Tensor,
    gt_labels: torch.Tensor,
    *,
    gt_mask: torch.Tensor | None = None,
    ignore_label: int = IGNORE_LABEL,
) -> torch.Tensor:
    """L_segm: softmax cross-entropy of the predicted part maps, averaged over pixels.

    Args:
        pred_logits: ``(B, P + 1, h, w)`` unnormalised scores (channel 0 = background).
        gt_labels: ``(B, H, W)`` int64 labels in ``[0, P]`` or ``ignore_label``; resized to
            ``(h, w)`` by nearest neighbour when ``(H, W) != (h, w)``.
        gt_mask: ``(B,)`` 1 for samples with segmentation GT; ``None`` = all.
        ignore_label: label of unlabelled pixels.

    Returns:
        Scalar mean cross-entropy (nats) over the labelled pixels.
    """
    check_float_tensor(pred_logits, name="pred_logits")
    dims = check_shape(pred_logits, "B C H W", name="pred_logits")
    labels, weights = _prepare_labels(
        gt_labels, pred_logits.shape[-2:], {"B": dims["B"], "H": dims["H"], "W": dims["W"]}, pred_logits,
        num_classes=dims["C"], ignore_label=ignore_label, gt_mask=gt_mask,
    )  # fmt: skip
    ce = F.cross_entropy(pred_logits, labels, reduction="none")  # (B, h, w)
    return weighted_mean(ce, weights)


def _bce(pred_probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Elementwise binary cross-entropy on clamped probabilities (autocast-safe, no fused op)."""
    p = pred_probs.clamp(PROB_EPS, 1.0 - PROB_EPS)
    return -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p))


def projected_segmentation_loss(
    pred_part_probs: torch.Tensor,
    gt_labels: torch.Tensor,
    *,
    gt_mask: torch.Tensor | None = None,
    ignore_label: int = IGNORE_LABEL,
) -> torch.Tensor:
    """L_proj: the paper's "sigmoid loss", binary cross-entropy of rendered part maps vs GT.

    Each of the P + 1 channels is an independent binary problem ("is this pixel part c?"),
    supervised by the one-hot GT; this is the sigmoid (per-channel BCE) loss, not a softmax
    cross-entropy, because rendered soft maps need not sum to 1 where parts overlap.

    Args:
        pred_part_probs: ``(B, P + 1, H, W)`` differentiably rendered part probabilities in
            ``[0, 1]`` of the predicted mesh (channel 0 = background / no mesh), e.g. from
            ``robosmplx_core.render.soft``. Probabilities, not logits.
        gt_labels: ``(B, H', W')`` int64 part labels in ``[0, P]`` or ``ignore_label``.
        gt_mask: ``(B,)`` 1 for samples with segmentation GT; ``None`` = all.
        ignore_label: label of unlabelled pixels.

    Returns:
        Scalar BCE averaged over the P + 1 channels and the labelled pixels.
    """
    check_float_tensor(pred_part_probs, name="pred_part_probs")
    dims = check_shape(pred_part_probs, "B C H W", name="pred_part_probs")
    labels, weights = _prepare_labels(
        gt_labels, pred_part_probs.shape[-2:], {"B": dims["B"], "H": dims["H"], "W": dims["W"]},
        pred_part_probs, num_classes=dims["C"], ignore_label=ignore_label, gt_mask=gt_mask,
    )  # fmt: skip
    one_hot = F.one_hot(labels, dims["C"]).to(pred_part_probs.dtype)  # (B, H, W, C)
    bce = _bce(pred_part_probs.permute(0, 2, 3, 1), one_hot)
    return weighted_mean(bce, weights)


def silhouette_loss(
    pred_silhouette: torch.Tensor,
    gt_labels: torch.Tensor,
    *,
    gt_mask: torch.Tensor | None = None,
    ignore_label: int = IGNORE_LABEL,
) -> torch.Tensor:
    """Silhouette-only variant of L_proj: BCE of the rendered mesh mask vs GT foreground.

    Args:
        pred_silhouette: ``(B, H, W)`` rendered coverage probability in ``[0, 1]`` (e.g.
            ``1 - pred_part_probs[:, 0]``).
        gt_labels: ``(B, H', W')`` integer labels: ``0`` background, any positive label (a part
            or plain ``1`` for a person mask) foreground, ``ignore_label`` unlabelled.
        gt_mask: ``(B,)`` 1 for samples with mask GT; ``None`` = all.
        ignore_label: label of unlabelled pixels.

    Returns:
        Scalar BCE averaged over the labelled pixels.
    """
    check_float_tensor(pred_silhouette, name="pred_silhouette")
    dims = check_shape(pred_silhouette, "B H W", name="pred_silhouette")
    labels, weights = _prepare_labels(
        gt_labels, pred_silhouette.shape[-2:], dims, pred_silhouette,
        num_classes=None, ignore_label=ignore_label, gt_mask=gt_mask,
    )  # fmt: skip
    target = (labels > 0).to(pred_silhouette.dtype)
    return weighted_mean(_bce(pred_silhouette, target), weights)
