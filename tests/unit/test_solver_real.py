"""The landmark solver on real MediaPipe Holistic landmarks of messi5.jpg (one footballer, full
body, both hands and the face visible). Needs the sample media fetched at set-up
(``make setup``). The image's calibration is unknown: the default 60 degree field of view.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.estimate.holistic import HolisticPool
from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.estimate.solver import LandmarkSolver, SolverResult
from robosmplx_core.estimate.solver.keypoints import HAND_TO_POINTS
from robosmplx_core.geometry import box_iou, default_intrinsics
from robosmplx_core.media import sample_path

MESSI_BOX_XYXY = np.array([60.0, 20.0, 420.0, 342.0], np.float32)


@pytest.fixture(scope="module")
def messi() -> tuple[np.ndarray, PersonLandmarks]:
    bgr = cv2.imread(str(sample_path("messi5.jpg")), cv2.IMREAD_COLOR)
    assert bgr is not None, f"OpenCV could not read {sample_path('messi5.jpg')}"
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    pool = HolisticPool()
    landmarks = pool.process(image, 0, MESSI_BOX_XYXY)
    pool.reset()
    assert landmarks is not None, "MediaPipe Holistic found no person on messi5.jpg"
    return image, landmarks


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load()


@pytest.fixture(scope="module")
def solved(messi, model) -> tuple[SolverResult, np.ndarray, np.ndarray]:
    image, landmarks = messi
    K = default_intrinsics(image.shape[1], image.shape[0]).double().numpy()
    result = LandmarkSolver.from_body_model(model).solve(landmarks, K)
    with torch.no_grad():
        vertices = model(result.params).vertices[0].double().numpy()
    return result, vertices, K


def test_solution_is_finite_in_front_of_the_camera_and_matches_the_model(solved, model):
    result, vertices, _ = solved
    assert np.all(np.isfinite(vertices)) and np.all(np.isfinite(result.joints3d))
    assert vertices[:, 2].min() > 0.5 and result.params.transl[0, 2] > 0.5
    with torch.no_grad():
        joints = model(result.params).joints[0].numpy()
    assert np.abs(joints - result.joints3d).max() < 1e-4


def test_projected_joints_match_the_2d_landmarks(solved, messi):
    result, _, _ = solved
    _, landmarks = messi
    assert result.reprojection_px < 6.0  # measured 3.7 px (person ~320 px tall)
    palm = [0, 5, 9, 13, 17]  # the solved wrists and knuckles land on the hand landmarks
    for side in ("left", "right"):
        hand = getattr(landmarks, f"{side}_hand_px")
        err = np.linalg.norm(result.joints2d[HAND_TO_POINTS[side][palm]] - hand[palm, :2], axis=1)
        assert err.mean() < 8.0, (side, err)  # measured: mean 1.6 (left) and 2.9 px (right)


def test_mesh_overlays_the_player(solved):
    result, vertices, K = solved
    homog = vertices @ K.T
    uv = homog[:, :2] / homog[:, 2:]
    mesh_box = np.array([[*uv.min(0), *uv.max(0)]], np.float32)
    assert box_iou(mesh_box, MESSI_BOX_XYXY[None])[0, 0] > 0.6  # measured 0.72 (the box is hand-drawn)


def test_all_parts_are_observed(solved):
    result, _, _ = solved
    c = result.confidence
    assert c.body > 0.8 and c.left_hand > 0.5 and c.right_hand > 0.5 and c.face > 0.5
    assert not torch.allclose(result.params.left_hand_pose, torch.eye(3).expand(1, 15, 3, 3), atol=1e-3)
