"""Left/right pairs in image order, named by the facing (``nets.sides``), on known heatmaps."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.body_model.keypoint_sets import WHOLEBODY137_NAMES
from robosmplx_core.nets.keypoints import gaussian_heatmaps
from robosmplx_core.nets.sides import assign_sides, decode_pairs_by_x, side_pairs

SIZE, SIGMA = 32, 1.5


def _blobs(*xy: tuple[float, float]) -> torch.Tensor:
    """One (SIZE, SIZE) heatmap: the sum of unit Gaussians at the given normalised points."""
    return gaussian_heatmaps(torch.tensor([list(xy)]), SIZE, SIGMA).sum(dim=1)[0]


def test_side_pairs_of_the_body_keypoints() -> None:
    left, right = side_pairs(WHOLEBODY137_NAMES[:25])
    assert len(left) == 11  # hips, knees, ankles, shoulders, elbows, wrists, toes x 2, heels, ears, eyes
    assert (left[0], right[0]) == (1, 2)  # left_hip, right_hip
    assert all(WHOLEBODY137_NAMES[i][5:] == WHOLEBODY137_NAMES[j][6:] for i, j in zip(left, right))
    assert side_pairs(("pelvis", "neck")) == ((), ())


@pytest.mark.parametrize("confused", [False, True])
def test_two_blobs_decode_in_image_order_whatever_the_heatmaps_call_them(confused: bool) -> None:
    """Named right (left heatmap = left blob), named wrong (swapped) or confused (both heatmaps
    show both blobs): the image-left point is the left blob."""
    a, b = (-0.4, 0.1), (0.3, -0.2)
    maps = torch.stack([_blobs(b), _blobs(a)])  # swapped: the "left" joint's heatmap is at the right blob
    if confused:
        maps = torch.stack([0.6 * _blobs(a, b), 0.5 * _blobs(a, b)])
    pairs = decode_pairs_by_x(maps[None], [0], [1])
    assert pairs.shape == (1, 1, 2, 2)
    cell = 2.0 / SIZE
    assert torch.allclose(pairs[0, 0, 0], torch.tensor(a), atol=0.2 * cell)
    assert torch.allclose(pairs[0, 0, 1], torch.tensor(b), atol=0.2 * cell)


def test_one_blob_decodes_both_points_at_its_centre_and_empty_maps_at_the_crop_centre() -> None:
    c = (0.13, -0.27)
    maps = torch.stack([_blobs(c), 0.8 * _blobs(c)])[None]
    pairs = decode_pairs_by_x(maps, [0], [1])
    assert torch.allclose(pairs[0, 0], torch.tensor([c, c]), atol=0.05 * 2.0 / SIZE)
    assert decode_pairs_by_x(torch.zeros(2, 2, 8, 8), [0], [1]).abs().max() == 0.0
    assert decode_pairs_by_x(torch.zeros(0, 2, 8, 8), [0], [1]).shape == (0, 1, 2, 2)


def test_assign_sides_known_values() -> None:
    """Slots: 0 single, 1 left_x, 2 right_x. Facing (p = 1): the right joint is the image-left
    point; away (p = 0): the image order; p = 0.5: both at the midpoint."""
    keypoints = torch.tensor([[[0.5, 0.5], [9.0, 9.0], [9.0, 9.0]]]).repeat(3, 1, 1)
    pairs_xy = torch.tensor([[[-0.2, 0.0], [0.4, 0.2]]]).expand(3, 1, 2, 2)
    out = assign_sides(keypoints, pairs_xy, torch.tensor([1.0, 0.0, 0.5]), [1], [2])
    expected = torch.tensor([[[0.5, 0.5], [0.4, 0.2], [-0.2, 0.0]], [[0.5, 0.5], [-0.2, 0.0], [0.4, 0.2]],
                             [[0.5, 0.5], [0.1, 0.1], [0.1, 0.1]]])
    assert torch.allclose(out, expected, atol=1e-6)


def test_errors() -> None:
    with pytest.raises(ValueError, match="one length"):
        decode_pairs_by_x(torch.zeros(1, 3, 8, 8), [0, 1], [2])
    with pytest.raises(ValueError, match="heatmaps"):
        decode_pairs_by_x(torch.zeros(3, 8, 8), [0], [1])
