"""Known values, resizing, ignore labels and masks of L_segm and L_proj (part and silhouette)."""

from __future__ import annotations

import math

import pytest
import torch

from robosmplx_core.losses import (
    IGNORE_LABEL,
    part_segmentation_loss,
    projected_segmentation_loss,
    resize_labels,
    silhouette_loss,
)

D = torch.float64


def test_resize_labels_nearest_both_ways():
    small = torch.tensor([[[0, 1], [2, 3]]])
    big = resize_labels(small, (4, 4))
    assert big.dtype == torch.int64
    assert torch.equal(big, small.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2))
    assert torch.equal(resize_labels(big, (2, 2)), small)
    assert torch.equal(resize_labels(small.to(torch.uint8), (2, 2)), small)
    with pytest.raises(TypeError, match="integer"):
        resize_labels(small.float(), (2, 2))


def test_part_segmentation_known_values():
    logits = torch.zeros(1, 3, 2, 2, dtype=D)
    labels = torch.tensor([[[0, 1], [2, 1]]])
    assert part_segmentation_loss(logits, labels).item() == pytest.approx(math.log(3.0))
    logits[0, 0] = 2.0  # background favoured everywhere
    expected = (math.log(1 + 2 * math.exp(-2.0)) + 3 * (2.0 + math.log(1 + 2 * math.exp(-2.0)))) / 4
    assert part_segmentation_loss(logits, labels).item() == pytest.approx(expected)


def test_part_segmentation_resizes_gt_ignores_and_masks():
    logits = torch.zeros(2, 3, 2, 2, dtype=D)
    logits[:, 1] = 5.0
    labels_hr = torch.ones(2, 4, 4, dtype=torch.int64)  # GT at twice the resolution
    labels_hr[0, :2, :2] = IGNORE_LABEL
    labels_hr[1] = 2  # wrong everywhere, but this sample has no GT
    mask = torch.tensor([1.0, 0.0])
    expected = -torch.log_softmax(logits[0, :, 0, 0], dim=0)[1].item()
    assert part_segmentation_loss(logits, labels_hr, gt_mask=mask).item() == pytest.approx(expected)
    all_ignored = torch.full((2, 2, 2), IGNORE_LABEL)
    assert part_segmentation_loss(logits, all_ignored).item() == 0.0
    with pytest.raises(ValueError, match="found 255"):  # 255 is a label once ignore_label changes
        part_segmentation_loss(logits, labels_hr, ignore_label=-1)


def test_part_segmentation_checks_and_empty_batch():
    logits = torch.zeros(0, 4, 8, 8, dtype=D, requires_grad=True)
    loss = part_segmentation_loss(logits, torch.zeros(0, 16, 16, dtype=torch.int64))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        part_segmentation_loss(torch.zeros(1, 4, 2, 2), torch.full((1, 2, 2), 4))
    with pytest.raises(ValueError, match="gt_labels"):
        part_segmentation_loss(torch.zeros(2, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="gt_mask"):
        part_segmentation_loss(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.int64),
                               gt_mask=torch.tensor([math.nan]))  # fmt: skip


def test_projected_segmentation_known_values():
    probs = torch.full((1, 3, 2, 2), 0.5, dtype=D)
    labels = torch.tensor([[[0, 1], [2, IGNORE_LABEL]]])
    assert projected_segmentation_loss(probs, labels).item() == pytest.approx(math.log(2.0))
    one_hot = torch.nn.functional.one_hot(labels.clamp(max=2), 3).permute(0, 3, 1, 2).to(D)
    probs = 0.8 * one_hot + 0.1 * (1 - one_hot)
    expected = (-math.log(0.8) - 2 * math.log(0.9)) / 3
    assert projected_segmentation_loss(probs, labels).item() == pytest.approx(expected)
    assert projected_segmentation_loss(one_hot, labels).item() == pytest.approx(0.0, abs=1e-5)


def test_projected_segmentation_gradient_is_finite_at_saturation():
    probs = torch.tensor([[[[0.0]], [[1.0]]]], dtype=D, requires_grad=True)  # (1, 2, 1, 1)
    loss = projected_segmentation_loss(probs, torch.zeros(1, 3, 3, dtype=torch.int64))
    loss.backward()
    assert math.isfinite(loss.item()) and torch.isfinite(probs.grad).all()
    assert loss.item() == pytest.approx(-math.log(1e-6), rel=1e-3)


def test_projected_segmentation_mask_and_empty_batch():
    probs = torch.full((2, 2, 3, 3), 0.5, dtype=D)
    probs[1] = 0.0  # very wrong, but masked out
    labels = torch.ones(2, 3, 3, dtype=torch.int64)
    assert projected_segmentation_loss(probs, labels, gt_mask=torch.tensor([1, 0])).item() == pytest.approx(
        math.log(2.0)
    )
    empty = torch.zeros(0, 2, 3, 3, dtype=D, requires_grad=True)
    loss = projected_segmentation_loss(empty, torch.zeros(0, 3, 3, dtype=torch.int64))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(empty.grad).all()


def test_silhouette_loss():
    labels = torch.tensor([[[0, 2], [1, IGNORE_LABEL]]])
    sil = torch.full((1, 2, 2), 0.5, dtype=D)
    assert silhouette_loss(sil, labels).item() == pytest.approx(math.log(2.0))
    sil = torch.tensor([[[0.1, 0.8], [0.8, 0.0]]], dtype=D)
    expected = (-math.log(0.9) - 2 * math.log(0.8)) / 3
    assert silhouette_loss(sil, labels).item() == pytest.approx(expected)
    big = labels.repeat_interleave(3, dim=1).repeat_interleave(3, dim=2)
    assert silhouette_loss(sil, big).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="pred_silhouette"):
        silhouette_loss(torch.zeros(1, 1, 2, 2), labels)
