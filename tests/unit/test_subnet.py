"""PartSubnetwork: one design for the three specs, mean initialisation, input checks, training."""

import pytest
import torch

from robosmplx_core.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rot6d_to_matrix
from robosmplx_core.nets._ops import mirror_rotmat, rot6d_to_rotmat_export
from robosmplx_core.nets.config import SubnetConfig
from robosmplx_core.nets.images import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, normalize_images
from robosmplx_core.nets.specs import BODY_SPEC, FACE_SPEC, HAND_SPEC
from robosmplx_core.nets.subnet import MEAN_CAMERA_SCALE, UPRIGHT_ROTMAT, PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS


CASES = [(BODY_SPEC, False), (HAND_SPEC, False), (HAND_SPEC, True), (FACE_SPEC, False), (FACE_SPEC, True)]


@pytest.mark.parametrize("spec, part_only", CASES, ids=lambda c: getattr(c, "name", str(c)))
def test_shapes_and_mean_init(spec, part_only):
    torch.manual_seed(0)
    net = PartSubnetwork(spec, **TINY_SUBNET_KWARGS, part_only=part_only).eval()
    s = net.input_size
    for batch in (0, 1, 4):
        with torch.no_grad():
            out = net(torch.randn(batch, 3, s, s))
        assert out.rot6d.shape == (batch, spec.num_rotations, 6)
        assert out.rotmats.shape == (batch, spec.num_rotations, 3, 3)
        assert out.joints.shape == (batch, spec.num_joints, 3)
        assert out.segm_logits.shape == (batch, spec.num_parts + 1, s // 4, s // 4)
        assert out.features.shape == (batch, 32)
        nb = spec.num_betas or (spec.part_num_betas if part_only else 0)
        assert (out.betas is None) == (nb == 0) and (nb == 0 or out.betas.shape == (batch, nb))
        assert (out.expression is None) == (spec.num_expression == 0)
        assert (out.camera is not None) == (spec.has_camera or part_only)
        assert (out.global_orient is not None) == part_only
    # untrained: the mean -- identity rotations (the body's global orientation upright, facing
    # the camera), zero betas/expression, camera (s0, 0, 0)
    expected = torch.eye(3).repeat(4, spec.num_rotations, 1, 1)
    if spec.name == "body":
        expected[:, 0] = torch.tensor(UPRIGHT_ROTMAT)
    torch.testing.assert_close(out.rotmats, expected)
    if out.global_orient is not None:
        torch.testing.assert_close(out.global_orient, torch.eye(3).expand(4, 3, 3))
    for coeffs in (out.betas, out.expression):
        if coeffs is not None:
            assert not coeffs.any()
    if out.camera is not None:
        torch.testing.assert_close(out.camera, torch.tensor([MEAN_CAMERA_SCALE[spec.name], 0.0, 0.0]).expand(4, 3))


def test_flat_path_matches_and_unflattens():
    net = PartSubnetwork(FACE_SPEC, **TINY_SUBNET_KWARGS, part_only=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        flat = net.forward_flat(x)
        out = net(x)
    assert len(flat) == len(net.output_names) and net.output_names[:2] == ("rot6d", "rotmats")
    for name, value in zip(net.output_names, flat):
        torch.testing.assert_close(getattr(out, name), value)
    with pytest.raises(ValueError, match="expected"):
        net.unflatten(flat[:-1])


def test_paper_size_body_default_config():
    """The paper's body subnetwork (ResNet-50, C = 512, D = 32) on one 256 px crop."""
    net = PartSubnetwork.from_config(BODY_SPEC, SubnetConfig()).eval()
    assert net.input_size == 256 and net.feature_size == 32
    with torch.no_grad():
        out = net(torch.randn(1, 3, 256, 256))
    assert out.joints.shape == (1, 137, 3) and out.segm_logits.shape == (1, 25, 64, 64)
    assert out.features.shape == (1, 512)


def test_input_errors_say_how_to_fix():
    net = PartSubnetwork(HAND_SPEC, **TINY_SUBNET_KWARGS)
    with pytest.raises(ValueError, match="crop_boxes"):
        net(torch.randn(1, 3, 96, 96))  # wrong crop size
    with pytest.raises(ValueError, match="permute"):
        net(torch.randn(1, 64, 64, 3))  # channels last
    with pytest.raises(ValueError, match="normalize_images"):
        net(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="batch"):
        net(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match="part_only=False"):
        PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, part_only=True)
    with pytest.raises(ValueError, match="multiple of 32"):
        PartSubnetwork(HAND_SPEC, **dict(TINY_SUBNET_KWARGS, input_size=100))
    with pytest.raises(ValueError, match="backbone"):
        SubnetConfig(backbone="vgg")


def test_normalize_images():
    img = torch.zeros(2, 3, 4, 5, dtype=torch.uint8)
    img[:, :, 0, 0] = 255
    out = normalize_images(img)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 5)
    mean, std = torch.tensor(IMAGENET_MEAN_RGB), torch.tensor(IMAGENET_STD_RGB)
    torch.testing.assert_close(out[0, :, 0, 0], (1 - mean) / std)
    torch.testing.assert_close(out[0, :, 1, 1], -mean / std)
    torch.testing.assert_close(normalize_images(img.float() / 255), out)
    assert normalize_images(torch.zeros(0, 3, 8, 8)).shape == (0, 3, 8, 8)
    with pytest.raises(ValueError, match="divide 0..255"):
        normalize_images(img.float())
    with pytest.raises(ValueError, match="permute"):
        normalize_images(torch.zeros(1, 8, 8, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="3-channel"):
        normalize_images(torch.zeros(1, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="uint8"):
        normalize_images(torch.zeros(1, 3, 8, 8, dtype=torch.int32))


def test_export_rotation_ops_match_geometry():
    torch.manual_seed(0)
    rot6d = torch.randn(5, 7, 6, dtype=torch.float64)
    torch.testing.assert_close(rot6d_to_rotmat_export(rot6d), rot6d_to_matrix(rot6d))
    aa = torch.randn(5, 3, dtype=torch.float64)
    mirrored = mirror_rotmat(axis_angle_to_matrix(aa))
    torch.testing.assert_close(matrix_to_axis_angle(mirrored), aa * torch.tensor([1.0, -1.0, -1.0], dtype=aa.dtype))
    assert rot6d_to_rotmat_export(torch.zeros(0, 4, 6)).shape == (0, 4, 3, 3)


def test_twenty_training_steps_lower_a_simple_loss():
    """L1 on joints + 6D rotations + segmentation CE to a fixed target on a fixed tiny batch."""
    torch.manual_seed(0)
    spec = HAND_SPEC
    net = PartSubnetwork(spec, **TINY_SUBNET_KWARGS).train()
    images = torch.randn(2, 3, 64, 64)
    gt_joints = torch.rand(2, spec.num_joints, 3) * 1.2 - 0.6
    gt_rot6d = torch.randn(2, spec.num_rotations, 6) * 0.3
    gt_segm = torch.randint(0, spec.num_parts + 1, (2, 16, 16))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        out = net(images)
        loss = ((out.joints - gt_joints).abs().mean() + (out.rot6d - gt_rot6d).abs().mean()
                + 0.1 * torch.nn.functional.cross_entropy(out.segm_logits, gt_segm))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert min(losses[-3:]) < 0.7 * losses[0], losses


def test_without_localization_module_the_regressor_reads_features_only():
    """The ablation baseline of table 11: no LF, no joints, no part maps; the same heads."""
    torch.manual_seed(0)
    full = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS)
    base = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, use_localization=False).eval()
    assert base.localization is None and "joints" not in base.output_names
    assert sum(p.numel() for p in base.parameters()) < sum(p.numel() for p in full.parameters())
    for batch in (0, 2):
        with torch.no_grad():
            out = base(torch.zeros(batch, 3, base.input_size, base.input_size))
        assert out.joints is None and out.segm_logits is None
        assert out.rotmats.shape == (batch, BODY_SPEC.num_rotations, 3, 3) and out.betas.shape == (batch, 10)


def test_set_mean_starts_the_regressor_at_a_given_pose():
    """HMR's mean-parameter initialisation: an untrained net then predicts exactly that pose."""
    from robosmplx_core.geometry.rotations import axis_angle_to_matrix

    torch.manual_seed(0)
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS).eval()
    rotmats = axis_angle_to_matrix(0.5 * torch.randn(BODY_SPEC.num_rotations, 3))
    betas = torch.randn(10)
    net.set_mean(rotmats=rotmats, betas=betas)
    with torch.no_grad():
        out = net(torch.zeros(2, 3, net.input_size, net.input_size))
    torch.testing.assert_close(out.rotmats, rotmats.expand(2, -1, -1, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.betas, betas.expand(2, -1))
    with pytest.raises(ValueError, match="rotmats"):
        net.set_mean(rotmats=torch.eye(3).expand(3, 3, 3))
