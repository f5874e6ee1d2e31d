"""The 2D keypoint stage (nets.keypoints): Gaussian targets, decoding known heatmaps, the head
and its place in the subnetwork."""

import pytest
import torch

from robosmplx_core.nets.keypoints import KeypointHead, decode_heatmaps, gaussian_heatmaps
from robosmplx_core.nets.specs import BODY_SPEC, HAND_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS, randomize_heads


def test_one_hot_heatmaps_decode_to_cell_centres():
    h = torch.zeros(2, 3, 8, 8)
    cells = [(0, 0), (7, 3), (2, 5)]  # (row, col)
    for j, (r, c) in enumerate(cells):
        h[:, j, r, c] = 2.0
    xy = decode_heatmaps(h)
    expected = torch.tensor([[(2 * c + 1) / 8 - 1, (2 * r + 1) / 8 - 1] for r, c in cells])
    torch.testing.assert_close(xy, expected.expand(2, 3, 2))


def test_gaussian_targets_round_trip_to_subcell_accuracy():
    """Targets peak at the keypoint's cell; decoding them recovers off-centre keypoints to well
    under a cell (1/16 of the crop for 32 cells: 0.0625 normalised)."""
    xy = torch.tensor([[[0.0, 0.0], [-0.53, 0.21], [0.77, -0.9]]])
    t = gaussian_heatmaps(xy, 32, 1.5)
    assert t.shape == (1, 3, 32, 32) and t.max() <= 1.0
    peak = t[0, 1].flatten().argmax()
    row, col = divmod(int(peak), 32)
    assert (row, col) == (int((0.21 + 1) * 16), int((-0.53 + 1) * 16))
    # the centre lies on a cell corner: four equal peaks, the decoded mean is exact
    assert (decode_heatmaps(t) - xy).abs().max() < 0.01


def test_weak_and_empty_heatmaps():
    """A flat background does not pull a weak peak to the centre; no positive value -> (0, 0)."""
    h = torch.full((1, 2, 16, 16), 0.05)
    h[0, 0, 2, 13] = 0.2  # weak, off-centre peak over a positive background
    h[0, 1] = -1.0
    xy = decode_heatmaps(h)
    torch.testing.assert_close(xy[0, 0], torch.tensor([(2 * 13 + 1) / 16 - 1, (2 * 2 + 1) / 16 - 1]))
    torch.testing.assert_close(xy[0, 1], torch.zeros(2))
    assert decode_heatmaps(torch.zeros(0, 5, 8, 8)).shape == (0, 5, 2)


def test_errors_say_what_was_wrong():
    with pytest.raises(ValueError, match="heatmaps"):
        decode_heatmaps(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="floor"):
        decode_heatmaps(torch.zeros(1, 1, 8, 8), floor=1.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_heatmaps(torch.zeros(1, 1, 2), 8, 0.0)
    with pytest.raises(ValueError, match="keypoint_joints"):
        PartSubnetwork(HAND_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=HAND_SPEC.num_joints + 1)
    with pytest.raises(ValueError, match=">= 1"):
        KeypointHead(in_channels=8, num_keypoints=0)


def test_subnetwork_with_the_keypoint_stage():
    """Shapes at batch 0, 1 and 4; the keypoints are the decoded heatmaps; the regressor reads
    them (its output changes with them) without sending gradients back into the stage."""
    torch.manual_seed(0)
    net = randomize_heads(PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=25)).eval()
    s = net.input_size
    assert net.output_names[-2:] == ("heatmaps", "keypoints2d")
    for batch in (0, 1, 4):
        with torch.no_grad():
            out = net(torch.randn(batch, 3, s, s))
        assert out.heatmaps.shape == (batch, 25, s // 4, s // 4)
        assert out.keypoints2d.shape == (batch, 25, 2)
        assert out.rotmats.shape == (batch, 22, 3, 3)
    torch.testing.assert_close(out.keypoints2d, decode_heatmaps(out.heatmaps))
    images = torch.randn(2, 3, s, s)
    with torch.no_grad():
        before = net(images)
        net.keypoint_head.layers[-1].bias.add_(torch.linspace(-3.0, 3.0, 25))  # moves only the keypoints
        after = net(images)
    torch.testing.assert_close(after.joints, before.joints)
    assert (after.keypoints2d - before.keypoints2d).abs().max() > 0.01
    assert (after.rot6d - before.rot6d).abs().max() > 1e-5
    plain = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS)
    assert plain.keypoint_head is None and "heatmaps" not in plain.output_names
    # gradients: the regression output does not reach the keypoint head
    net.train()
    out = net(torch.randn(2, 3, s, s))
    out.rot6d.sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in net.keypoint_head.parameters())
    assert net.regressor_out.weight.grad.abs().sum() > 0
