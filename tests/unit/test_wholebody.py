"""Whole-body assembly and crop helpers: shapes, box maths, mirroring, camera, input checks."""

import pytest
import torch

from robosmplx_core.geometry.camera import crop_cam_to_full_transl
from robosmplx_core.nets.config import NetworkConfig, SubnetConfig
from robosmplx_core.nets.crop import crop_boxes, crop_to_image, joint_extent_boxes, square_boxes
from robosmplx_core.nets.specs import BODY_SPEC, FACE_SPEC, HAND_SPEC
from robosmplx_core.nets.subnet import MEAN_CAMERA_SCALE, PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from robosmplx_core.nets.wholebody import PART_JOINT_INDICES_137, WholeBodyNetwork
from robosmplx_core.types import SMPLXParams


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    parts = [PartSubnetwork(spec, **TINY_SUBNET_KWARGS) for spec in (BODY_SPEC, HAND_SPEC, FACE_SPEC)]
    return WholeBodyNetwork(*parts, box_head_channels=16).eval()


def _inputs(batch, height=120, width=160):
    images = torch.randn(batch, 3, height, width)
    boxes = torch.tensor([[60.0, 10.0, 100.0, 110.0]]).repeat(batch, 1)
    K = torch.tensor([[150.0, 0.0, 80.0], [0.0, 150.0, 60.0], [0.0, 0.0, 1.0]]).expand(batch, 3, 3)
    return images, boxes, K


@pytest.mark.parametrize("batch", [0, 1, 4])
def test_shapes(net, batch):
    with torch.no_grad():
        out = net(*_inputs(batch))
    assert isinstance(out.params, SMPLXParams) and out.params.batch_size == batch
    assert out.params.left_hand_pose.shape == (batch, 15, 3, 3) and out.params.transl.shape == (batch, 3)
    assert out.body.joints.shape == (batch, 137, 3)
    assert out.right_hand.rotmats.shape == out.left_hand.rotmats.shape == (batch, 15, 3, 3)
    assert out.face.expression.shape == (batch, 10)
    assert out.part_boxes_xyxy.shape == out.joint_part_boxes_xyxy.shape == (batch, 3, 4)
    assert out.box_offsets.shape == out.part_box_center_scale.shape == (batch, 3, 3)
    assert out.body_boxes_xyxy.shape == (batch, 4)


def test_untrained_outputs_and_camera(net):
    images, boxes, K = _inputs(2)
    with torch.no_grad():
        out = net(images, boxes, K)
    assert not out.box_offsets.any()
    torch.testing.assert_close(out.part_boxes_xyxy, out.joint_part_boxes_xyxy)
    torch.testing.assert_close(out.params.left_hand_pose, torch.eye(3).expand(2, 15, 3, 3))
    torch.testing.assert_close(out.body_boxes_xyxy, square_boxes(boxes, scale=1.2))
    center = (out.body_boxes_xyxy[:, :2] + out.body_boxes_xyxy[:, 2:]) / 2
    side = out.body_boxes_xyxy[:, 2] - out.body_boxes_xyxy[:, 0]
    expected = crop_cam_to_full_transl(torch.tensor([[MEAN_CAMERA_SCALE["body"], 0.0, 0.0]] * 2), center, side,
                                       torch.tensor([[160.0, 120.0]] * 2), 150.0)
    torch.testing.assert_close(out.params.transl, expected)


def test_box_head_is_trainable(net):
    out = net(*_inputs(2))
    (out.part_box_center_scale - 0.3).abs().mean().backward()
    assert net.box_head.mlp[-1].weight.grad.abs().sum() > 0
    net.zero_grad()


def test_part_joint_indices():
    assert [len(v) for v in PART_JOINT_INDICES_137.values()] == [21, 21, 72]


def test_crop_identity_and_mirror():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    full = torch.tensor([[0.0, 0.0, 8.0, 8.0]] * 2)
    torch.testing.assert_close(crop_boxes(images, full, out_size=8), images)
    torch.testing.assert_close(crop_boxes(images, full, out_size=8, mirror=True), images.flip(-1))
    quarter = crop_boxes(images, torch.tensor([[4.0, 0.0, 8.0, 4.0]] * 2), out_size=4)
    torch.testing.assert_close(quarter, images[:, :, 0:4, 4:8])
    assert crop_boxes(torch.zeros(0, 3, 8, 8), torch.zeros(0, 4), out_size=4).shape == (0, 3, 4, 4)


def test_crop_to_image_inverts_the_crop_mapping():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 60.0]])
    pts = torch.tensor([[[-1.0, -1.0], [0.0, 0.0], [0.5, -0.5]]])
    torch.testing.assert_close(crop_to_image(pts, boxes), torch.tensor([[[10.0, 20.0], [30.0, 40.0], [40.0, 30.0]]]))
    torch.testing.assert_close(crop_to_image(pts, boxes, mirror=True)[0, 2], torch.tensor([20.0, 30.0]))
    ext = joint_extent_boxes(torch.tensor([[[0.0, 0.0], [2.0, 1.0]]]), scale=2.0, min_side=1.0)
    torch.testing.assert_close(ext, torch.tensor([[-1.0, -1.5, 3.0, 2.5]]))


def test_input_errors(net):
    images, boxes, K = _inputs(1)
    with pytest.raises(ValueError, match="normalize_images"):
        net((images * 0).to(torch.uint8), boxes, K)
    with pytest.raises(ValueError, match="boxes_xyxy"):
        net(images, boxes[:, :3], K)
    with pytest.raises(ValueError, match="K"):
        net(images, boxes, K[:, :2])
    with pytest.raises(ValueError, match=r"\.float\(\)"):
        net(images, boxes.long(), K)
    parts = [PartSubnetwork(spec, **TINY_SUBNET_KWARGS) for spec in (HAND_SPEC, BODY_SPEC, FACE_SPEC)]
    with pytest.raises(ValueError, match="'body' spec"):
        WholeBodyNetwork(*parts)


def test_from_config():
    tiny = SubnetConfig(**TINY_SUBNET_KWARGS)
    net = WholeBodyNetwork.from_config(NetworkConfig(body=tiny, hand=tiny, face=tiny, box_head_channels=8)).eval()
    with torch.no_grad():
        assert net(*_inputs(1)).params.batch_size == 1
    with pytest.raises(ValueError, match="hand_box_scale"):
        NetworkConfig(hand_box_scale=0.0)
