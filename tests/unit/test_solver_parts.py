"""Pieces of the landmark solver: numpy rotations and linear algebra, the skeleton against the
smplx layer, hinge chains, translation, the jaw table and the face-mesh -> iBUG-68 map.

CPU only, the body model from ``BodyModel.load()`` (the stand-in unless $ROBOSMPLX_MODEL_DIR).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_127_NAMES
from robosmplx_core.body_model.keypoint_sets import MEDIAPIPE_FACE_MESH_INDEX, MEDIAPIPE_FACE_MESH_TO_SMPLX_NAMES
from robosmplx_core.estimate.solver import chains, so3
from robosmplx_core.estimate.solver.face import FaceModel, aperture
from robosmplx_core.estimate.solver.keypoints import (
    FACE_IBUG, FACE_TO_POINTS, MEDIAPIPE_FACE_TO_IBUG68, POSE_IDS, POSE_TO_POINTS, face_ibug68,
)
from robosmplx_core.estimate.solver.linalg import gram, matmul_rows, pixel_rays, solve_spd
from robosmplx_core.estimate.solver.skeleton import SkeletonModel
from robosmplx_core.estimate.solver.translation import solve_translation
from robosmplx_core.types import SMPLXParams


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load()


@pytest.fixture(scope="module")
def skel(model: BodyModel) -> SkeletonModel:
    return SkeletonModel.from_body_model(model)


def _rotvecs() -> np.ndarray:
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(12, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.array([0.0, 1e-9, 1e-5, 1e-3, 0.5, 2.0, 3.0, 3.1, math.pi - 1e-6, math.pi, 1.0, 2.5])
    return np.concatenate([axes * angles[:, None], Rotation.random(20, random_state=1).as_rotvec()])


# ------------------------------------------------------------------------------ so3, linalg


def test_rotvec_matrix_round_trip_matches_scipy_including_zero_and_half_turns():
    rv = _rotvecs()
    mats = so3.rotvec_to_matrix(rv)
    np.testing.assert_allclose(mats, Rotation.from_rotvec(rv).as_matrix(), atol=1e-12)
    back = so3.matrix_to_rotvec(mats)
    np.testing.assert_allclose(so3.rotvec_to_matrix(back), mats, atol=1e-8)
    regular = np.linalg.norm(rv, axis=1) < 3.0
    np.testing.assert_allclose(back[regular], rv[regular], atol=1e-10)


def test_rotation_between_maps_a_onto_b_also_for_opposite_directions():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    b[0], b[1] = -3.0 * a[0], 2.0 * a[1]  # opposite, identical
    rot = so3.rotation_between(a, b)
    got = (rot @ so3.normalize(a)[..., None])[..., 0]
    np.testing.assert_allclose(got, so3.normalize(b), atol=1e-12)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    np.testing.assert_allclose(rot[1], np.eye(3), atol=1e-12)


def test_kabsch_recovers_rotations_with_weights_and_ignores_zero_weight_outliers():
    rng = np.random.default_rng(3)
    truth = Rotation.random(4, random_state=4).as_matrix()
    src = rng.normal(size=(4, 7, 3))
    dst = (truth @ np.swapaxes(src, -1, -2)).swapaxes(-1, -2) * 2.5 + rng.normal(size=(4, 1, 3))
    dst[:, -1] += 10.0  # an outlier with zero weight
    weights = np.ones((4, 7))
    weights[:, -1] = 0.0
    np.testing.assert_allclose(so3.kabsch(src, dst, weights), truth, atol=1e-10)
    mirrored = src * np.array([1.0, 1.0, -1.0])  # no proper rotation fits: still det +1
    assert np.allclose(np.linalg.det(so3.kabsch(src[0], mirrored[0])), 1.0)


def test_cross_skew_and_clamp_angle():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    np.testing.assert_allclose(so3.cross(a, b), np.cross(a, b), atol=1e-12)
    clamped = so3.clamp_angle(so3.rotvec_to_matrix(a * 3.0), 0.4)
    assert np.linalg.norm(so3.matrix_to_rotvec(clamped), axis=1).max() == pytest.approx(0.4)


def test_single_thread_linear_algebra_helpers_match_numpy():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(301, 47))
    np.testing.assert_allclose(gram(a), a.T @ a, atol=1e-9)
    b = rng.normal(size=(47, 31))
    np.testing.assert_allclose(matmul_rows(a, b), a @ b, atol=1e-9)
    h = gram(a) + np.eye(47)
    g = rng.normal(size=47)
    np.testing.assert_allclose(h @ solve_spd(h, g), g, atol=1e-9)
    assert np.all(np.isfinite(solve_spd(np.zeros((3, 3)), np.ones(3))))  # singular: finite, no exception
    K = np.array([[800.0, 2.0, 320.0], [0.0, 790.0, 240.0], [0.0, 0.0, 1.0]])
    px = rng.uniform(0, 640, size=(9, 2))
    rays = pixel_rays(px, K)
    homog = rays @ K.T
    np.testing.assert_allclose(homog[:, :2] / homog[:, 2:], px, atol=1e-9)


# ------------------------------------------------------------------------------ skeleton


def _params(local: np.ndarray, betas: np.ndarray, expression: np.ndarray) -> SMPLXParams:
    t = {k: torch.as_tensor(v, dtype=torch.float32)[None] for k, v in dict(
        global_orient=local[0], body_pose=local[1:22], jaw_pose=local[22], leye_pose=local[23], reye_pose=local[24],
        left_hand_pose=local[25:40], right_hand_pose=local[40:55], betas=betas, expression=expression,
        transl=np.zeros(3)).items()}
    return SMPLXParams(**t)


def test_skeleton_poses_the_127_points_like_the_smplx_layer(model: BodyModel, skel: SkeletonModel):
    rng = np.random.default_rng(7)
    local = so3.rotvec_to_matrix(rng.normal(scale=0.4, size=(55, 3)))
    betas, expression = rng.normal(size=model.num_betas), rng.normal(size=model.num_expression)
    with torch.no_grad():
        want = model(_params(local, betas, expression)).joints[0].double().numpy()
    got = skel.pose(local, skel.rest(betas, expression)).points
    assert np.abs(got - want).max() < 2e-6


def test_skeleton_applies_pose_correctives_like_the_layer():
    """Real SMPL-X files have pose blend shapes (the stand-in's are zero): give the layer some."""
    model = BodyModel.load()
    posedirs = model.layer.posedirs
    model.layer.posedirs = torch.randn(posedirs.shape, generator=torch.Generator().manual_seed(0)) * 2e-3
    skel = SkeletonModel.from_body_model(model)
    assert skel.vertex_posedirs is not None
    rng = np.random.default_rng(13)
    local = so3.rotvec_to_matrix(rng.normal(scale=0.4, size=(55, 3)))
    betas = rng.normal(size=model.num_betas)
    with torch.no_grad():
        want = model(_params(local, betas, np.zeros(model.num_expression))).joints[0].double().numpy()
    zero = SkeletonModel.from_body_model(BodyModel.load()).pose(local, skel.rest(betas)).points
    got = skel.pose(local, skel.rest(betas)).points
    assert np.abs(got - want).max() < 2e-6 < np.abs(zero - want).max()


def test_skeleton_shape_and_expression_jacobians_match_finite_differences(skel: SkeletonModel):
    rng = np.random.default_rng(8)
    local = so3.rotvec_to_matrix(rng.normal(scale=0.4, size=(55, 3)))
    betas, expression = rng.normal(size=skel.num_betas), np.zeros(skel.num_expression)
    posed = skel.pose(local, skel.rest(betas, expression))
    idx = np.array([0, 7, 20, 55, 60, 70, 85, 110, 126])
    rows = skel.point_matrix[idx]
    used = np.nonzero(rows[:, 55:].any(0))[0]
    shape_jac = skel.point_shapedirs(posed, np.concatenate([rows[:, :55], rows[:, 55 + used]], 1), used)
    expr_jac = skel.point_exprdirs(posed, idx)
    h = 1e-6
    for k in range(skel.num_betas):
        moved = skel.pose(local, skel.rest(betas + h * np.eye(skel.num_betas)[k], expression)).points[idx]
        np.testing.assert_allclose(shape_jac[..., k], (moved - posed.points[idx]) / h, atol=1e-6)
    base = skel.rest(betas, expression)
    surface = idx >= 55
    for k in range(skel.num_expression):  # the skinned basis; joints kept (their expression shift is ignored)
        verts = skel.rest(betas, expression + h * np.eye(skel.num_expression)[k]).vertices
        moved = skel.pose_globals(posed.rotations, dataclasses.replace(base, vertices=verts), local).points[idx]
        np.testing.assert_allclose(expr_jac[surface, :, k], ((moved - posed.points[idx]) / h)[surface], atol=1e-6)


# ------------------------------------------------------------------------------ chains, translation


def test_hinge_chain_recovers_swing_twist_and_hinge_and_zeroes_unobservable_twist():
    rng = np.random.default_rng(9)
    n = 40
    b1 = np.tile([0.26, 0.0, -0.005], (n, 1))
    b2 = np.tile([0.26, 0.0, 0.0], (n, 1))
    rest = chains.HingeChains.build(b1, b2, np.array([0.0, 0.0, 1.0]), np.pi)
    axis = rest.axis
    parent = Rotation.random(n, random_state=10).as_matrix()
    targets = rng.normal(size=(n, 3))
    twist = rng.uniform(-1.2, 1.2, n)
    bend = rng.uniform(0.35, 2.0, n)
    bend[:5] = 0.0  # straight: the twist is unobservable, the solver must return none
    twist[:5] = 0.0
    prox_local = so3.rotvec_to_matrix(so3.normalize(targets) * twist[:, None]) @ so3.rotation_between(b1, targets)
    mid_local = so3.rotvec_to_matrix(axis * bend[:, None])
    prox, mid = parent @ prox_local, parent @ prox_local @ mid_local
    d1, d2 = (prox @ b1[..., None])[..., 0], (mid @ b2[..., None])[..., 0]
    got_prox, got_mid = chains.solve_hinge_chains(rest, parent, d1, d2)
    np.testing.assert_allclose(got_prox, prox, atol=1e-8)
    np.testing.assert_allclose(got_mid, mid, atol=1e-8)


def test_translation_is_recovered_exactly_and_degenerate_input_stays_in_front():
    rng = np.random.default_rng(11)
    K = np.array([[1100.0, 0.0, 640.0], [0.0, 1100.0, 360.0], [0.0, 0.0, 1.0]])
    points = rng.normal(scale=0.4, size=(27, 3))
    truth = np.array([0.3, -0.2, 3.5])
    homog = (points + truth) @ K.T
    t = solve_translation(points, homog[:, :2] / homog[:, 2:], np.ones(27), K)
    np.testing.assert_allclose(t, truth, atol=1e-9)
    flat = solve_translation(points, np.full((27, 2), 100.0), np.ones(27), K)
    assert np.all(np.isfinite(flat)) and (points[:, 2] + flat[2]).min() > 0
    none = solve_translation(points, np.zeros((27, 2)), np.zeros(27), K)
    assert np.all(np.isfinite(none)) and none[2] > 0


# ------------------------------------------------------------------------------ shape, face, tables


def test_jaw_aperture_table_is_monotonic_and_inverts(skel: SkeletonModel):
    face = FaceModel.from_skeleton(skel)
    assert np.all(np.diff(face.aperture) >= 0) and face.aperture[-1] > face.aperture[0] + 0.05
    local = np.tile(np.eye(3), (55, 1, 1))
    local[22] = so3.rotvec_to_matrix(np.array([0.21, 0.0, 0.0]))
    ratio = aperture(skel.pose(local, skel.rest()).points[FACE_TO_POINTS])
    assert face.jaw_from_aperture(ratio) == pytest.approx(0.21, abs=0.01)


def test_face_mesh_to_ibug_table_agrees_with_the_known_face_mesh_points():
    table = MEDIAPIPE_FACE_TO_IBUG68
    assert table.shape == (68, 2) and table.min() >= 0 and table.max() < 468
    ibug_of = {SMPLX_127_NAMES[point]: k for k, point in zip(FACE_IBUG, FACE_TO_POINTS)}
    checked = 0
    for mesh_name, smplx_name in MEDIAPIPE_FACE_MESH_TO_SMPLX_NAMES.items():
        if smplx_name not in ibug_of or mesh_name.endswith("iris_center"):
            continue
        k = ibug_of[smplx_name]
        assert MEDIAPIPE_FACE_MESH_INDEX[mesh_name] in table[k], (mesh_name, smplx_name, table[k])
        checked += 1
    assert checked == 15  # nose tip, 4 eye corners, 2 mouth corners, 4 lip midpoints, 4 brow ends
    mesh = np.arange(468 * 3, dtype=float).reshape(468, 3)
    np.testing.assert_allclose(face_ibug68(mesh)[36], mesh[33])  # right eye outer corner


def test_pose_map_covers_27_landmarks():
    assert len(POSE_IDS) == 27 and len(set(POSE_TO_POINTS.tolist())) == 27
