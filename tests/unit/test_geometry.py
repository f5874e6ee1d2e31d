"""Known values, scipy pins, round trips and gradchecks for robosmplx_core.geometry."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core import geometry as geo

ATOL = 1e-6


def _rotvecs(seed: int = 0) -> np.ndarray:
    """Random rotation vectors plus angles near 0 and near (and at) pi, float64 (K, 3)."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(12, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    near_pi = [math.pi - 1e-3, math.pi - 1e-6, math.pi]
    angles = np.array([0.0, 1e-9, 1e-5, 1e-3, 0.5, 1.0, 2.0, 3.0, *near_pi, 2.5])
    random = Rotation.random(20, random_state=seed).as_rotvec()
    return np.concatenate([axes * angles[:, None], random])


# ------------------------------------------------------------------------------ rotations


def test_axis_angle_to_matrix_matches_scipy():
    rv = _rotvecs()
    got = geo.axis_angle_to_matrix(torch.from_numpy(rv)).numpy()
    np.testing.assert_allclose(got, Rotation.from_rotvec(rv).as_matrix(), atol=ATOL)


def test_matrix_to_axis_angle_matches_scipy_and_round_trips():
    rv = _rotvecs()
    mats = Rotation.from_rotvec(rv).as_matrix()
    got = geo.matrix_to_axis_angle(torch.from_numpy(mats)).numpy()
    # Away from pi the rotation vector is unique: compare with scipy directly.
    away = np.linalg.norm(rv, axis=1) < math.pi - 1e-4
    np.testing.assert_allclose(got[away], Rotation.from_matrix(mats[away]).as_rotvec(), atol=1e-6)
    # Near / at pi: the angle is pi-ish and the matrix must come back exactly.
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), np.linalg.norm(rv, axis=1), atol=1e-5)
    np.testing.assert_allclose(Rotation.from_rotvec(got).as_matrix(), mats, atol=1e-6)


def test_quaternions_are_xyzw_and_match_scipy():
    rv = _rotvecs(1)
    mats = Rotation.from_rotvec(rv).as_matrix()
    ref = Rotation.from_rotvec(rv).as_quat()  # scipy: xyzw
    ref = ref * np.where(ref[:, 3:] < 0, -1.0, 1.0)
    q_from_m = geo.matrix_to_quaternion(torch.from_numpy(mats)).numpy()
    q_from_rv = geo.axis_angle_to_quaternion(torch.from_numpy(rv)).numpy()
    w_zero = np.abs(ref[:, 3]) < 1e-6  # angle pi: q and -q both have w = 0
    for q in (q_from_m, q_from_rv):
        assert (q[:, 3] >= 0).all()
        np.testing.assert_allclose(np.abs((q * ref).sum(axis=1)), 1.0, atol=1e-6)
        np.testing.assert_allclose(q[~w_zero], ref[~w_zero], atol=1e-6)
    np.testing.assert_allclose(geo.quaternion_to_matrix(torch.from_numpy(ref)).numpy(), mats, atol=ATOL)
    rv_back = geo.quaternion_to_axis_angle(torch.from_numpy(ref)).numpy()
    np.testing.assert_allclose(Rotation.from_rotvec(rv_back).as_matrix(), mats, atol=1e-6)


def test_quaternion_known_value_and_normalisation():
    # 90 degrees about z: xyzw = (0, 0, sin 45, cos 45); a scaled copy gives the same matrix.
    q = torch.tensor([0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5)], dtype=torch.float64)
    expected = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(geo.quaternion_to_matrix(q), expected)
    torch.testing.assert_close(geo.quaternion_to_matrix(3.0 * q), expected)
    torch.testing.assert_close(geo.quaternion_to_matrix(-q), expected)


def test_rot6d_layout_is_first_two_columns_and_round_trips():
    mats = torch.from_numpy(Rotation.random(30, random_state=3).as_matrix())
    r6 = geo.matrix_to_rot6d(mats)
    assert r6.shape == (30, 6)
    torch.testing.assert_close(r6[:, 0:3], mats[:, :, 0])
    torch.testing.assert_close(r6[:, 3:6], mats[:, :, 1])
    torch.testing.assert_close(geo.rot6d_to_matrix(r6), mats)


def test_rot6d_to_matrix_orthonormalises_noisy_input():
    rng = np.random.default_rng(4)
    r6 = torch.from_numpy(rng.normal(size=(50, 6)))
    mats = geo.rot6d_to_matrix(r6)
    eye = torch.eye(3, dtype=torch.float64).expand(50, 3, 3)
    torch.testing.assert_close(mats.transpose(-1, -2) @ mats, eye)
    torch.testing.assert_close(torch.linalg.det(mats), torch.ones(50, dtype=torch.float64))
    # Gram-Schmidt keeps the direction of the first column.
    first = r6[:, :3] / r6[:, :3].norm(dim=-1, keepdim=True)
    torch.testing.assert_close(mats[:, :, 0], first)


def test_rotations_keep_leading_batch_dims():
    rv = torch.from_numpy(_rotvecs()[:24]).reshape(2, 3, 4, 3)
    mats = geo.axis_angle_to_matrix(rv)
    assert mats.shape == (2, 3, 4, 3, 3)
    assert geo.matrix_to_rot6d(mats).shape == (2, 3, 4, 6)
    assert geo.rot6d_to_matrix(geo.matrix_to_rot6d(mats)).shape == (2, 3, 4, 3, 3)
    assert geo.matrix_to_quaternion(mats).shape == (2, 3, 4, 4)
    assert geo.matrix_to_axis_angle(mats).shape == (2, 3, 4, 3)
    assert geo.axis_angle_to_matrix(torch.zeros(3)).shape == (3, 3)


def test_geodesic_angle_known_values():
    rz90 = geo.axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    eye = torch.eye(3, dtype=torch.float64)
    assert geo.geodesic_angle(eye, rz90).item() == pytest.approx(math.pi / 2, abs=1e-9)
    assert geo.geodesic_angle(eye, eye).item() == pytest.approx(0.0, abs=1e-7)
    rx180 = geo.axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    assert geo.geodesic_angle(eye, rx180).item() == pytest.approx(math.pi, abs=1e-6)
    # Random pairs agree with scipy's magnitude of the relative rotation.
    r1, r2 = Rotation.random(10, random_state=5), Rotation.random(10, random_state=6)
    got = geo.geodesic_angle(torch.from_numpy(r1.as_matrix()), torch.from_numpy(r2.as_matrix()))
    np.testing.assert_allclose(got.numpy(), (r1.inv() * r2).magnitude(), atol=1e-6)


def test_gradcheck_axis_angle_to_matrix_and_rot6d_to_matrix():
    rv = torch.tensor([[0.3, -0.2, 0.5], [1e-4, 2e-4, -1e-4], [2.0, 1.0, -0.5]], dtype=torch.float64)
    assert torch.autograd.gradcheck(geo.axis_angle_to_matrix, (rv.requires_grad_(),))
    r6 = torch.from_numpy(np.random.default_rng(7).normal(size=(4, 6))).requires_grad_()
    assert torch.autograd.gradcheck(geo.rot6d_to_matrix, (r6,))


@pytest.mark.parametrize(
    ("fn", "bad", "field", "expected"),
    [
        (geo.axis_angle_to_matrix, torch.zeros(4, 4), "axis_angle", "(..., 3)"),
        (geo.matrix_to_axis_angle, torch.zeros(4, 3), "rotmat", "(..., 3, 3)"),
        (geo.rot6d_to_matrix, torch.zeros(2, 9), "rot6d", "(..., 6)"),
        (geo.quaternion_to_matrix, torch.zeros(3), "quat_xyzw", "(..., 4)"),
        (geo.matrix_to_rot6d, torch.zeros(3), "rotmat", "(..., 3, 3)"),
    ],
)
def test_rotations_reject_wrong_shapes(fn, bad, field, expected):
    with pytest.raises(ValueError, match=f"{field}: expected shape {re.escape(expected)}"):
        fn(bad)


def test_rotations_reject_non_tensor_and_integer_input():
    with pytest.raises(TypeError, match="axis_angle: expected a torch.Tensor"):
        geo.axis_angle_to_matrix(np.zeros(3))
    with pytest.raises(ValueError, match="rotmat: expected a floating-point dtype"):
        geo.matrix_to_rot6d(torch.zeros(3, 3, dtype=torch.int64))


# ----------------------------------------------------------------------------- projection


def test_perspective_projection_known_values():
    K = torch.tensor([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
    pts = torch.tensor([[[0.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, -0.4, 2.0]]])
    uv = geo.perspective_projection(pts, K[None])
    torch.testing.assert_close(uv, torch.tensor([[[320.0, 240.0], [570.0, 240.0], [320.0, 140.0]]]))
    torch.testing.assert_close(geo.perspective_projection(pts, K), uv)  # shared (3, 3) K


def test_perspective_projection_guards_nonpositive_depth():
    K = torch.eye(3)
    pts = torch.tensor([[[1.0, 1.0, 0.0], [1.0, 1.0, -2.0]]])
    uv = geo.perspective_projection(pts, K)
    assert torch.isfinite(uv).all()
    torch.testing.assert_close(uv[0, 0], torch.tensor([1.0, 1.0]) / geo.DEPTH_EPS_M)


def test_perspective_projection_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"points: expected shape \(B, N, 3\)"):
        geo.perspective_projection(torch.zeros(2, 5, 2), torch.eye(3))
    with pytest.raises(ValueError, match=r"K: expected shape \(B, 3, 3\) with B=2"):
        geo.perspective_projection(torch.zeros(2, 5, 3), torch.eye(3).expand(3, 3, 3))


def test_weak_perspective_to_translation_hmr_convention():
    cam = torch.tensor([[0.8, 0.1, -0.2]])
    transl = geo.weak_perspective_to_translation(cam, focal_px=5000.0, crop_size_px=224.0)
    torch.testing.assert_close(transl, torch.tensor([[0.1, -0.2, 2 * 5000.0 / (0.8 * 224.0)]]))
    # Consistency: a body point projects to the same crop pixel with both cameras.
    X = torch.tensor([[[0.3, -0.1, 0.0]]])
    K = torch.tensor([[5000.0, 0.0, 112.0], [0.0, 5000.0, 112.0], [0.0, 0.0, 1.0]])
    uv = geo.perspective_projection(X + transl[:, None], K)
    weak = 112.0 + 112.0 * 0.8 * (X[..., :2] + cam[:, None, 1:])
    torch.testing.assert_close(uv, weak)


def test_intrinsics_from_fov():
    K = geo.default_intrinsics(640, 480)
    focal = 320.0 / math.tan(math.radians(geo.DEFAULT_FOV_DEG) / 2)
    expected = torch.tensor([[focal, 0.0, 320.0], [0.0, focal, 240.0], [0.0, 0.0, 1.0]])
    torch.testing.assert_close(K, expected)
    Kv = geo.intrinsics_from_fov(640, 480, 90.0, fov_axis="vertical")
    assert Kv[0, 0].item() == pytest.approx(240.0)
    with pytest.raises(ValueError, match="fov_deg"):
        geo.intrinsics_from_fov(640, 480, 180.0)
    with pytest.raises(ValueError, match="fov_axis"):
        geo.intrinsics_from_fov(640, 480, 60.0, fov_axis="diagonal")


# --------------------------------------------------------------------------------- camera


def _crop_args():
    pred_cam = torch.tensor([[0.5, 0.1, -0.05], [1.2, -0.3, 0.2]], dtype=torch.float64)
    center = torch.tensor([[740.0, 360.0], [200.0, 500.0]], dtype=torch.float64)
    size = torch.tensor([200.0, 350.0], dtype=torch.float64)
    image_wh = torch.tensor([[1280.0, 720.0], [1280.0, 720.0]], dtype=torch.float64)
    focal = torch.tensor([1000.0, 1500.0], dtype=torch.float64)
    return pred_cam, center, size, image_wh, focal


def test_crop_cam_to_full_transl_known_value():
    # Box 100 px right of the image centre, s * b = 100 px: Tz = 2f / (s b) = 20, Tx = tx + 2.
    pred_cam = torch.tensor([[0.5, 0.1, 0.0]])
    transl = geo.crop_cam_to_full_transl(
        pred_cam, torch.tensor([[740.0, 360.0]]), 200.0, torch.tensor([[1280.0, 720.0]]), 1000.0
    )
    torch.testing.assert_close(transl, torch.tensor([[2.1, 0.0, 20.0]]))


def test_crop_cam_agrees_with_perspective_projection_and_round_trips():
    pred_cam, center, size, image_wh, focal = _crop_args()
    transl = geo.crop_cam_to_full_transl(pred_cam, center, size, image_wh, focal)
    # The body origin projects (full camera) where the crop camera puts it.
    K = torch.zeros(2, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = focal, focal, 1.0
    K[:, :2, 2] = image_wh / 2
    uv = geo.perspective_projection(transl[:, None], K)[:, 0]
    torch.testing.assert_close(uv, center + size[:, None] / 2 * pred_cam[:, 0:1] * pred_cam[:, 1:])
    back = geo.full_transl_to_crop_cam(transl, center, size, image_wh, focal)
    torch.testing.assert_close(back, pred_cam)


def test_crop_cam_with_explicit_principal_point():
    pred_cam, center, size, image_wh, focal = _crop_args()
    pp = torch.tensor([[650.0, 350.0], [630.0, 370.0]], dtype=torch.float64)
    transl = geo.crop_cam_to_full_transl(pred_cam, center, size, image_wh, focal, principal_point_xy=pp)
    back = geo.full_transl_to_crop_cam(transl, center, size, image_wh, focal, principal_point_xy=pp)
    torch.testing.assert_close(back, pred_cam)


def test_crop_cam_rejects_bad_shapes():
    pred_cam, center, size, image_wh, focal = _crop_args()
    with pytest.raises(ValueError, match=r"box_center_xy: expected shape \(B, 2\)"):
        geo.crop_cam_to_full_transl(pred_cam, center[:, :1], size, image_wh, focal)
    with pytest.raises(ValueError, match=r"focal_px: expected shape \(B\) with B=2"):
        geo.crop_cam_to_full_transl(pred_cam, center, size, image_wh, focal[:1])


def test_crop_intrinsics_maps_pixels_into_the_crop():
    K = torch.tensor([[900.0, 0.0, 640.0], [0.0, 900.0, 360.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    boxes = torch.tensor([[500.0, 200.0, 700.0, 400.0], [100.0, 50.0, 400.0, 350.0]]).double()
    K_crop = geo.crop_intrinsics(K, boxes, 256)
    pts = torch.tensor([[[0.1, 0.05, 3.0], [-0.2, 0.3, 2.5]]], dtype=torch.float64).expand(2, 2, 3)
    uv_full = geo.perspective_projection(pts, K)
    scale = 256.0 / (boxes[:, 2:] - boxes[:, :2])
    expected = (uv_full - boxes[:, None, :2]) * scale[:, None]
    torch.testing.assert_close(geo.perspective_projection(pts, K_crop), expected)


# ---------------------------------------------------------------------------------- boxes


def test_box_iou_known_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor(
        [[0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0], [1.0, 0.0, 3.0, 2.0], [2.0, 0.0, 4.0, 2.0]]
    )
    torch.testing.assert_close(geo.box_iou(a, b), torch.tensor([[1.0, 0.0, 1.0 / 3.0, 0.0]]))
    iou_np = geo.box_iou(a.numpy(), b.numpy())
    assert isinstance(iou_np, np.ndarray) and iou_np.shape == (1, 4)
    zero = torch.zeros(1, 4)
    assert geo.box_iou(zero, zero).item() == 0.0  # empty union -> 0, not NaN
    assert geo.box_iou(torch.zeros(0, 4), b).shape == (0, 4)


def test_box_conversions_round_trip_and_known_values():
    xyxy = torch.tensor([[10.0, 20.0, 50.0, 100.0], [0.0, 0.0, 1.0, 3.0]])
    xywh = geo.box_xyxy_to_xywh(xyxy)
    cxcywh = geo.box_xyxy_to_cxcywh(xyxy)
    torch.testing.assert_close(xywh[0], torch.tensor([10.0, 20.0, 40.0, 80.0]))
    torch.testing.assert_close(cxcywh[0], torch.tensor([30.0, 60.0, 40.0, 80.0]))
    torch.testing.assert_close(geo.box_xywh_to_xyxy(xywh), xyxy)
    torch.testing.assert_close(geo.box_cxcywh_to_xyxy(cxcywh), xyxy)
    torch.testing.assert_close(geo.box_xywh_to_cxcywh(xywh), cxcywh)
    torch.testing.assert_close(geo.box_cxcywh_to_xywh(cxcywh), xywh)
    out = geo.box_xyxy_to_cxcywh(np.array([[0, 0, 4, 2]]))  # numpy int in -> numpy float out
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [[2.0, 1.0, 4.0, 2.0]])
    assert geo.box_xyxy_to_xywh(torch.zeros(2, 3, 4)).shape == (2, 3, 4)


def test_box_area_square_and_clip():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 100.0], [5.0, 5.0, 1.0, 1.0]])
    torch.testing.assert_close(geo.box_area(boxes), torch.tensor([3200.0, 0.0]))
    square = geo.expand_box_to_square(boxes[:1], scale=1.5)
    torch.testing.assert_close(square, torch.tensor([[-30.0, 0.0, 90.0, 120.0]]))
    clipped = geo.clip_boxes(square, width=64, height=100)
    torch.testing.assert_close(clipped, torch.tensor([[0.0, 0.0, 64.0, 100.0]]))
    assert isinstance(geo.clip_boxes(square.numpy(), 64, 100), np.ndarray)


def test_boxes_reject_bad_input():
    with pytest.raises(ValueError, match=r"boxes_xyxy: expected shape \(\.\.\., 4\), got \(3, 5\)"):
        geo.box_area(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"boxes_a_xyxy: expected shape \(N, 4\)"):
        geo.box_iou(torch.zeros(2, 3, 4), torch.zeros(3, 4))
    with pytest.raises(TypeError, match="boxes_xyxy"):
        geo.box_xyxy_to_xywh([[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="scale"):
        geo.expand_box_to_square(torch.zeros(1, 4), scale=0.0)
