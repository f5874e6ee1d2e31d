"""Plausible random poses and the exact landmarks the body model gives for them.

For tests, benchmarks and sanity checks of the solver (and of anything consuming
``PersonLandmarks``): the landmarks are what a perfect MediaPipe would output if the person
were this SMPL-X body. The sampler follows the solver's documented priors, so its poses are
exactly representable:

- root: facing the camera (half turn about x: SMPL-X is y-up, the camera y-down) then yaw
  +-60 deg, pitch -10..30 deg (leaning forward), roll +-10 deg;
- spine1/2/3: one shared rotation with axial twist +-15 deg and lateral bend +-8 deg (no
  flexion: flexion is carried by the pelvis); neck and head: one shared rotation, +-15 deg per
  axis; collars, toes and eyes at rest;
- shoulders / hips: the bone swung to a random direction (arms: lowered -20..70 deg from
  horizontal, forward -30..80 deg; legs: forward -15..80 deg, outward -5..30 deg), then
  twisted +-60 / +-30 deg about it; elbows / knees: hinges (``chains.hinge_axis``) bent 20..120 / 15..100 deg, bounded away from
  straight so the twist above them is observable;
- ankles +-15 deg per axis; wrists +-30 deg per axis (0 without hands, unobservable then);
- fingers: MCP swung 0..60 deg towards the palm and +-10 deg sideways (no twist), PIP and DIP
  hinges 0..70 deg (thumb: 0..40 deg); jaw opened 0..0.3 rad about x;
- optional: betas and expression ~ N(0, std^2); translation puts the pelvis at x +-0.4 m,
  y +-0.2 m, 2.5..4 m ahead of the camera.

Landmarks: pose from the 127 output points through ``MEDIAPIPE_POSE_TO_SMPLX127`` (the coarse
hand points, which have no SMPL-X counterpart, get the MCP / thumb points), world landmarks =
camera-frame points minus the hip midpoint, hands = (u, v, (Z - Z_wrist) fx / Z_wrist), face =
the 51 SMPL-X landmarks written at their face-mesh vertices with depth relative to the face's
mean depth (the other mesh vertices get the face centre).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from robosmplx_core.body_model.keypoint_sets import MEDIAPIPE_POSE_TO_SMPLX127
from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.estimate.solver import so3
from robosmplx_core.estimate.solver.chains import hinge_axis
from robosmplx_core.estimate.solver.keypoints import (
    FACE_IBUG, FACE_TO_POINTS, HAND_CHAINS, HAND_TO_POINTS, J, MEDIAPIPE_FACE_TO_IBUG68, MP, P,
)
from robosmplx_core.types import SMPLXParams

PALM_DIRECTION = np.array([0.0, -1.0, 0.0])  # SMPL-X rest hands are flat, palms down
_COARSE_HAND = {"pinky": "pinky1", "index": "index1", "thumb": "thumb2"}


def _deg(rng: np.random.Generator, lo: float, hi: float, size=None) -> np.ndarray:
    return np.radians(rng.uniform(lo, hi, size))


def _rot(x: float, y: float, z: float) -> np.ndarray:
    return so3.rotvec_to_matrix(np.array([x, y, z], np.float64))


def _swing_twist(rest_dir: np.ndarray, target: np.ndarray, twist: float) -> np.ndarray:
    return so3.rotvec_to_matrix(so3.normalize(target) * twist) @ so3.rotation_between(rest_dir, target)


def _limb(rng, rest: np.ndarray, joints: tuple[int, int, int], target: np.ndarray, twist_deg: float,
          bend_deg: tuple[float, float], flex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b1, b2 = rest[joints[1]] - rest[joints[0]], rest[joints[2]] - rest[joints[1]]
    prox = _swing_twist(b1, target, _deg(rng, -twist_deg, twist_deg))
    mid = so3.rotvec_to_matrix(hinge_axis(b2, flex) * _deg(rng, *bend_deg))
    return prox, mid


def _hand(rng, rest: np.ndarray, side: str) -> np.ndarray:
    """(15, 3, 3) finger rotations in SMPL-X hand order, see module doc."""
    out = np.tile(np.eye(3), (15, 1, 1))
    for chain in HAND_CHAINS:
        idx = HAND_TO_POINTS[side][chain]
        thumb = chain[0] == 1
        b = [rest[idx[i + 1]] - rest[idx[i]] for i in range(3)]
        side_axis = so3.normalize(so3.cross(PALM_DIRECTION, b[0]))
        curl = hinge_axis(b[0], PALM_DIRECTION)
        mcp_dir = so3.rotvec_to_matrix(side_axis * _deg(rng, -10, 10)) @ \
            so3.rotvec_to_matrix(curl * _deg(rng, 0, 40 if thumb else 60)) @ b[0]
        rots = [so3.rotation_between(b[0], mcp_dir)]
        for i in (1, 2):
            rots.append(so3.rotvec_to_matrix(hinge_axis(b[i], PALM_DIRECTION) * _deg(rng, 0, 40 if thumb else 70)))
        for i in range(3):
            out[idx[i] - (25 if side == "left" else 40)] = rots[i]
    return out


def sample_params(model, rng: np.random.Generator, *, hands: bool = True, face: bool = True,
                  betas_std: float = 0.0, expression_std: float = 0.0) -> SMPLXParams:
    """One random person (B = 1) in front of the camera, see the module doc for the ranges."""
    nb, ne = model.num_betas, model.num_expression
    betas = rng.normal(0, betas_std, nb) if betas_std else np.zeros(nb)
    rest = model.rest_joints(torch.as_tensor(betas[None], dtype=torch.float32))[0].double().numpy()
    points = _rest_points(model, betas)
    local = np.tile(np.eye(3), (55, 1, 1))
    flip = so3.rotvec_to_matrix(np.array([np.pi, 0, 0]))
    yaw, pitch, roll = _deg(rng, -60, 60), _deg(rng, -10, 30), _deg(rng, -10, 10)
    local[0] = flip @ _rot(0, yaw, 0) @ _rot(pitch, 0, 0) @ _rot(0, 0, roll)
    spine = so3.rotvec_to_matrix(np.array([0.0, _deg(rng, -15, 15), _deg(rng, -8, 8)]))
    local[[J["spine1"], J["spine2"], J["spine3"]]] = spine
    local[[J["neck"], J["head"]]] = so3.rotvec_to_matrix(_deg(rng, -15, 15, 3))
    for s, sign in (("left", 1.0), ("right", -1.0)):
        arm = (J[f"{s}_shoulder"], J[f"{s}_elbow"], J[f"{s}_wrist"])
        forward = _deg(rng, -30, 80)
        target = _rot(0, -sign * forward, 0) @ _rot(0, 0, -sign * _deg(rng, -20, 70)) @ np.array([sign, 0, 0])
        local[arm[0]], local[arm[1]] = _limb(rng, rest, arm, target, 60, (20, 120), np.array([0, 0, 1.0]))
        leg = (J[f"{s}_hip"], J[f"{s}_knee"], J[f"{s}_ankle"])
        forward = _deg(rng, -15, 80)
        target = _rot(-forward, 0, 0) @ _rot(0, 0, sign * _deg(rng, -5, 30)) @ np.array([0, -1.0, 0])
        local[leg[0]], local[leg[1]] = _limb(rng, rest, leg, target, 30, (15, 100), np.array([0, 0, -1.0]))
        local[J[f"{s}_ankle"]] = so3.rotvec_to_matrix(_deg(rng, -15, 15, 3))
        if hands:
            local[J[f"{s}_wrist"]] = so3.rotvec_to_matrix(_deg(rng, -30, 30, 3))
            start = 25 if s == "left" else 40
            local[start:start + 15] = _hand(rng, points, s)
    if face:
        local[J["jaw"]] = so3.rotvec_to_matrix(np.array([rng.uniform(0, 0.3), 0, 0]))
    expression = rng.normal(0, expression_std, ne) if expression_std else np.zeros(ne)
    transl = np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.2, 0.2), rng.uniform(2.5, 4.0)]) - rest[0]
    t = {k: torch.as_tensor(v, dtype=torch.float32)[None] for k, v in dict(
        global_orient=local[0], body_pose=local[1:22], jaw_pose=local[22], leye_pose=local[23],
        reye_pose=local[24], left_hand_pose=local[25:40], right_hand_pose=local[40:55],
        betas=betas, expression=expression, transl=transl).items()}
    return SMPLXParams(**t)


def _rest_points(model, betas: np.ndarray) -> np.ndarray:
    params = SMPLXParams.zeros(1, num_betas=model.num_betas, num_expression=model.num_expression)
    params = SMPLXParams(**{**vars(params), "betas": torch.as_tensor(betas[None], dtype=torch.float32)})
    with torch.no_grad():
        return model(params).joints[0].double().numpy()


@dataclass(frozen=True)
class SyntheticPerson:
    """Ground truth and its landmarks.

    Fields:
        params: SMPL-X parameters (B = 1, camera frame).
        joints: (127, 3) camera-frame output points of the model, metres.
        vertices: (V, 3) camera-frame mesh.
        landmarks: what a perfect MediaPipe Holistic would output.
    """

    params: SMPLXParams
    joints: np.ndarray
    vertices: np.ndarray
    landmarks: PersonLandmarks


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def synthetic_person(model, params: SMPLXParams, K: np.ndarray, *, hands: bool = True, face: bool = True,
                     noise_px: float = 0.0, noise_world_m: float = 0.0,
                     rng: np.random.Generator | None = None) -> SyntheticPerson:
    """Landmarks of ``params`` seen by intrinsics ``K`` (3, 3), with optional Gaussian noise on
    every pixel coordinate (``noise_px``) and on the world landmarks (``noise_world_m``)."""
    rng = rng or np.random.default_rng(0)
    with torch.no_grad():
        out = model(params)
    pts = out.joints[0].double().numpy()
    K = np.asarray(K, np.float64)
    pose_map = MEDIAPIPE_POSE_TO_SMPLX127.copy()
    for name in ("pinky", "index", "thumb"):
        for s in ("left", "right"):
            pose_map[MP[f"{s}_{name}"]] = P[f"{s}_{_COARSE_HAND[name]}"]
    pose3d = pts[pose_map]
    world = pose3d - 0.5 * (pose3d[MP["left_hip"]] + pose3d[MP["right_hip"]])

    def noisy(px: np.ndarray) -> np.ndarray:
        return px + rng.normal(0, noise_px, px.shape) if noise_px else px

    def relative(points: np.ndarray, z_ref: float) -> np.ndarray:
        return np.concatenate([noisy(_project(points, K)), ((points[:, 2] - z_ref) * K[0, 0] / z_ref)[:, None]], 1)

    hand = {}
    for side in ("left", "right"):
        p = pts[HAND_TO_POINTS[side]]
        hand[side] = relative(p, p[0, 2]) if hands else None
    face_px = None
    if face:
        p = pts[FACE_TO_POINTS]
        vals = relative(p, p[:, 2].mean())
        face_px = np.tile(vals.mean(0), (468, 1))
        for k, v in zip(FACE_IBUG, vals):
            face_px[MEDIAPIPE_FACE_TO_IBUG68[k]] = v
    lm = PersonLandmarks(
        pose_px=noisy(_project(pose3d, K)), pose_visibility=np.ones(33),
        pose_world_m=world + (rng.normal(0, noise_world_m, world.shape) if noise_world_m else 0.0),
        left_hand_px=hand["left"], right_hand_px=hand["right"], face_px=face_px)
    return SyntheticPerson(params=params, joints=pts, vertices=out.vertices[0].double().numpy(), landmarks=lm)
