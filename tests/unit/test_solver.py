"""The landmark -> SMPL-X solver on exact and noisy synthetic landmarks of sampled bodies.

Poses come from ``solver.synthetic.sample_params`` (its documented sampler: hinged elbows and
knees bent 20..120 / 15..100 degrees, bounded swings and twists, one shared spine rotation
without flexion, neck = head, unobservable twists zero), seen by a 1280x720 camera with the
default 60 degree field of view at 2.5..4 m. Landmarks are the model's own points
(``synthetic_person``). Numbers measured with the stand-in model (body angle error 0.17 deg,
MPJPE 0.4 mm on exact landmarks) are pinned with margin.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.estimate.solver import LandmarkSolver, SolverConfig, so3
from robosmplx_core.estimate.solver.synthetic import sample_params, synthetic_person
from robosmplx_core.geometry import default_intrinsics
from robosmplx_core.types import PersonEstimate, SMPLXParams

W, H = 1280, 720


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load()


@pytest.fixture(scope="module")
def solver(model: BodyModel) -> LandmarkSolver:
    return LandmarkSolver.from_body_model(model)


@pytest.fixture(scope="module")
def K() -> np.ndarray:
    return default_intrinsics(W, H).double().numpy()


def _locals(p: SMPLXParams) -> np.ndarray:
    """(55, 3, 3) float64 local rotations in SMPL-X joint order."""
    return torch.cat([p.global_orient[:, None], p.body_pose, p.jaw_pose[:, None], p.leye_pose[:, None],
                      p.reye_pose[:, None], p.left_hand_pose, p.right_hand_pose], 1)[0].double().numpy()


def _angles_deg(a: SMPLXParams, b: SMPLXParams) -> np.ndarray:
    """(55,) geodesic angle between the two parameter sets' local rotations, degrees."""
    rel = np.swapaxes(_locals(a), -1, -2) @ _locals(b)
    return np.degrees(np.linalg.norm(so3.matrix_to_rotvec(rel), axis=-1))


def _evaluate(model, solver, K, seeds, **kwargs) -> dict[str, float]:
    """Mean errors over seeds: body angles (global + 21), hands, MPJPE (55), translation, jaw."""
    sample_kw = {k: kwargs.pop(k) for k in ("betas_std", "expression_std", "hands", "face") if k in kwargs}
    body, hands, mpjpe, transl, jaw, face = [], [], [], [], [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        truth = sample_params(model, rng, **sample_kw)
        person = synthetic_person(model, truth, K, rng=rng, hands=sample_kw.get("hands", True),
                                  face=sample_kw.get("face", True), **kwargs)
        result = solver.solve(person.landmarks, K)
        with torch.no_grad():
            joints = model(result.params).joints[0].double().numpy()
        assert np.abs(joints - result.joints3d).max() < 1e-4  # the solver's points are the model's
        ang = _angles_deg(truth, result.params)
        body.append(ang[:22].mean())
        hands.append(ang[25:].mean())
        jaw.append(ang[22])
        mpjpe.append(1000 * np.linalg.norm(joints[:55] - person.joints[:55], axis=1).mean())
        face.append(1000 * np.linalg.norm(joints[76:] - person.joints[76:], axis=1).mean())
        transl.append(1000 * np.linalg.norm((result.params.transl - truth.transl).numpy()))
    return {k: float(np.mean(v)) for k, v in dict(body_deg=body, hands_deg=hands, mpjpe_mm=mpjpe,
                                                   transl_mm=transl, jaw_deg=jaw, face_mm=face).items()}


def test_recovers_exact_synthetic_poses(model, solver, K):
    err = _evaluate(model, solver, K, range(12))
    # measured: body 0.17 deg, hands 0.001 deg, MPJPE 0.43 mm, translation 0.15 mm, jaw 0.37 deg
    assert err["body_deg"] < 0.5 and err["hands_deg"] < 0.1 and err["jaw_deg"] < 1.0
    assert err["mpjpe_mm"] < 1.5 and err["transl_mm"] < 1.0


def test_estimates_shape_and_the_mean_shape_solver_cannot(model, solver, K):
    fitted = _evaluate(model, solver, K, range(8), betas_std=1.0)
    mean_shape = LandmarkSolver.from_body_model(model, SolverConfig(estimate_betas=False))
    fixed = _evaluate(model, mean_shape, K, range(8), betas_std=1.0)
    # measured: betas estimated 3.3 mm / 0.59 deg; mean shape 63 mm / 4.2 deg
    assert fitted["mpjpe_mm"] < 6.0 and fitted["body_deg"] < 1.5
    assert fixed["mpjpe_mm"] > 5 * fitted["mpjpe_mm"]


def test_recovers_jaw_and_expression(model, solver, K):
    err = _evaluate(model, solver, K, range(8), expression_std=1.0)
    # measured: jaw 4.5 deg, face landmarks 1.9 mm, MPJPE 1.0 mm (the stand-in's expression basis
    # moves the landmarks by at most 8 mm per unit, so the prior takes a visible share)
    assert err["jaw_deg"] < 8.0 and err["face_mm"] < 3.5 and err["mpjpe_mm"] < 3.0


def test_noise_degrades_gracefully(model, solver, K):
    """Gaussian noise of n px on every 2D landmark and n x 5 mm on the world landmarks."""
    small = _evaluate(model, solver, K, range(10), noise_px=1.0, noise_world_m=0.005)
    large = _evaluate(model, solver, K, range(10), noise_px=3.0, noise_world_m=0.015)
    # measured (1 px): body 1.9 deg, MPJPE 7.8 mm, translation 8.0 mm, fingers 14 deg (hands are ~60 px)
    # measured (3 px): body 5.7 deg, MPJPE 23.7 mm, translation 24.5 mm, fingers 37 deg
    assert small["body_deg"] < 3.5 and small["mpjpe_mm"] < 15.0 and small["hands_deg"] < 22.0
    assert large["body_deg"] < 9.0 and large["mpjpe_mm"] < 40.0 and large["hands_deg"] < 50.0
    for key in ("body_deg", "mpjpe_mm", "transl_mm"):  # about linear in the noise, no breakdown
        assert large[key] < 4.5 * small[key], key


def test_missing_hands_and_face_give_rest_parts_and_zero_confidence(model, solver, K):
    person = synthetic_person(model, sample_params(model, np.random.default_rng(1)), K)
    result = solver.solve(dataclasses.replace(person.landmarks, left_hand_px=None, right_hand_px=None, face_px=None), K)
    eye = torch.eye(3)
    assert torch.allclose(result.params.left_hand_pose[0], eye.expand(15, 3, 3), atol=1e-6)
    assert torch.allclose(result.params.right_hand_pose[0], eye.expand(15, 3, 3), atol=1e-6)
    assert torch.allclose(result.params.jaw_pose[0], eye, atol=1e-6)
    assert torch.count_nonzero(result.params.expression) == 0
    c = result.confidence
    assert (c.left_hand, c.right_hand, c.face) == (0.0, 0.0, 0.0) and c.body == pytest.approx(1.0)
    with_parts = solver.solve(person.landmarks, K).confidence
    assert min(with_parts.left_hand, with_parts.right_hand, with_parts.face) == pytest.approx(1.0)


def test_low_visibility_legs_and_degenerate_landmarks_stay_finite(model, solver, K):
    lm = synthetic_person(model, sample_params(model, np.random.default_rng(2)), K).landmarks
    vis = lm.pose_visibility.copy()
    vis[23:] = 0.0
    world, pixels = lm.pose_world_m.copy(), lm.pose_px.copy()
    world[25:], pixels[25:] = 0.0, 0.0  # legs collapsed onto the hip centre / the image corner
    zeros = PersonLandmarks(pose_px=np.zeros((33, 2)), pose_visibility=np.zeros(33), pose_world_m=np.zeros((33, 3)),
                            left_hand_px=np.zeros((21, 3)), right_hand_px=np.zeros((21, 3)),
                            face_px=np.zeros((468, 3)))
    cases = [dataclasses.replace(lm, pose_visibility=vis, pose_world_m=world, pose_px=pixels), zeros]
    rng = np.random.default_rng(3)
    cases += [PersonLandmarks(pose_px=rng.uniform(0, W, (33, 2)), pose_visibility=rng.uniform(0, 1, 33),
                              pose_world_m=rng.normal(0, 0.5, (33, 3)), left_hand_px=rng.uniform(0, 300, (21, 3)),
                              face_px=rng.uniform(0, 300, (468, 3))) for _ in range(8)]
    for landmarks in cases:
        result = solver.solve(landmarks, K)  # SMPLXParams itself rejects NaN
        assert np.all(np.isfinite(result.joints3d)) and np.all(np.isfinite(result.joints2d))
        assert result.joints3d[:22, 2].min() > 0
    assert solver.solve(cases[0], K).confidence.body == pytest.approx(0.5)  # arms visible, legs not


def test_intrinsics_default_and_errors(model, solver, K):
    lm = synthetic_person(model, sample_params(model, np.random.default_rng(4)), K).landmarks
    by_size = solver.solve(lm, image_size_wh=(W, H))
    torch.testing.assert_close(by_size.params.transl, solver.solve(lm, K).params.transl)
    with pytest.raises(ValueError, match="image_size_wh"):
        solver.solve(lm)
    with pytest.raises(ValueError, match="pinhole"):
        solver.solve(lm, K * 2.0)
    with pytest.raises(ValueError, match="PersonLandmarks"):
        solver.solve({"pose_px": lm.pose_px}, K)


def test_result_converts_to_person_estimate(model, solver, K):
    result = solver.solve(synthetic_person(model, sample_params(model, np.random.default_rng(5)), K).landmarks, K)
    est = result.to_person_estimate(track_id=3, box_xyxy=np.array([0, 0, 10, 10]), score=0.9)
    assert isinstance(est, PersonEstimate) and est.joints3d.shape == (127, 3) and est.params.batch_size == 1
    assert result.reprojection_px < 0.05
