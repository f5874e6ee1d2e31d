"""The facing branch (``nets.facing``): its target, where it places the head patch, the patch
sampler, the head's shapes and how the body subnetwork wires it in."""

from __future__ import annotations

import math

import pytest
import torch

from robosmplx_core.nets.config import SubnetConfig
from robosmplx_core.nets.facing import (HEAD_KEYPOINTS, MIN_PATCH, NECK, PATCH_PER_TORSO, PELVIS, FacingHead,
                                        facing_targets, head_patch_boxes, sample_patches)
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import UPRIGHT_ROTMAT, PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS


def _rot_y(deg: float) -> torch.Tensor:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def test_facing_targets_from_the_global_orientation() -> None:
    """UPRIGHT_ROTMAT stands the body upright facing the camera (subnet docstring); turned by
    yaw about the camera's vertical axis it faces the camera up to 90 degrees, then away."""
    upright = torch.tensor(UPRIGHT_ROTMAT)
    turned = torch.stack([_rot_y(deg) @ upright for deg in (0.0, 45.0, -80.0, 100.0, 180.0, -135.0)])
    assert facing_targets(turned).tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert facing_targets(torch.zeros(0, 3, 3)).shape == (0,)
    with pytest.raises(ValueError, match="global_orient"):
        facing_targets(torch.zeros(2, 9))


def test_head_patch_boxes_known_values() -> None:
    kp = torch.zeros(2, 25, 2)
    kp[0, list(HEAD_KEYPOINTS)] = torch.tensor([[0.1, -0.6], [-0.1, -0.6], [0.05, -0.62], [-0.05, -0.62], [0.0, -0.55]])
    kp[0, NECK], kp[0, PELVIS] = torch.tensor([0.0, -0.4]), torch.tensor([0.3, 0.0])  # torso 0.5 long
    kp[1, :] = 0.25  # every keypoint at one point: the smallest patch
    boxes = head_patch_boxes(kp)
    assert boxes[0].tolist() == pytest.approx([0.0, -0.598, PATCH_PER_TORSO * 0.5], abs=1e-6)
    assert boxes[1].tolist() == pytest.approx([0.25, 0.25, MIN_PATCH])
    with pytest.raises(ValueError, match="keypoint_joints >= 25"):
        head_patch_boxes(torch.zeros(1, 21, 2))


def test_sample_patches_reads_the_right_pixels() -> None:
    """A patch whose cells coincide with pixel centres copies those pixels exactly; outside
    the crop it is zero."""
    image = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16)
    # side 1.0 around the centre: pixels 4..11 of 16 (x_norm = 2 u / 16 - 1), one cell each
    boxes = torch.tensor([[0.0, 0.0, 1.0], [0.5, 0.5, 4.0]])
    patches = sample_patches(image, boxes, 8)
    assert patches.shape == (2, 3, 8, 8)
    assert torch.equal(patches[0], image[0, :, 4:12, 4:12])
    assert float(patches[1, :, -1, -1].abs().max()) == 0.0  # far outside the crop


@pytest.mark.parametrize("batch", [0, 1, 4])
def test_facing_head_shapes(batch: int) -> None:
    head = FacingHead(patch_size=16, channels=4).eval()
    logits = head(torch.randn(batch, 3, 64, 64), torch.rand(batch, 25, 2) - 0.5)
    assert logits.shape == (batch,)
    assert head.classify(torch.randn(batch, 3, 16, 16)).shape == (batch,)
    with pytest.raises(ValueError, match="patch_size"):
        FacingHead(patch_size=4)


@pytest.mark.parametrize("batch", [0, 1, 4])
def test_subnetwork_outputs_facing_and_the_regressor_reads_it_detached(batch: int) -> None:
    torch.manual_seed(0)
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=25, facing_head=True).eval()
    assert net.output_names[-1] == "facing"
    out = net(torch.randn(batch, 3, 64, 64))
    assert out.facing.shape == (batch,) and out.keypoints2d.shape == (batch, 25, 2)
    if batch:
        torch.nn.init.normal_(net.regressor_out.weight, std=0.1)
        net(torch.randn(batch, 3, 64, 64)).rot6d.sum().backward()
        grads = [p.grad for p in net.facing_head.parameters()]
        assert all(g is None or float(g.abs().max()) == 0.0 for g in grads)
        assert net.regressor_mlp[0].weight.grad[:, -1].abs().max() > 0  # the last input is read


def test_facing_head_errors() -> None:
    with pytest.raises(ValueError, match="keypoint_joints >= 25"):
        PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=8, facing_head=True)
    with pytest.raises(ValueError, match="keypoint_joints >= 25"):
        SubnetConfig(keypoint_joints=0, facing_head=True)
    assert SubnetConfig(keypoint_joints=25, facing_head=True).facing_head
