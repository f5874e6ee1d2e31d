"""Body inverse kinematics on MediaPipe's metric 3D pose landmarks (skeleton only, numpy).

Input: ``pose_world_m`` (33, 3), hip-midpoint origin, camera-aligned axes (x right, y down,
z forward). Output: global rotations (55, 3, 3) of the body joints in that frame (so the root
rotation is the camera-frame ``global_orient``); hands, jaw and eyes are left at their parents'
rotation (identity local) for later stages. The rest geometry (``BodyIK``) is the model's mean
shape, built once per model: the bone directions, not their lengths, drive the rotations, and
the shape is estimated later with the pose (``refine.py``). Per part:

- Torso (pelvis + spine): the pelvis rotation R0 and one spine rotation ``r`` shared by
  spine1/2/3 are fitted by Gauss-Newton (``TORSO_ITERATIONS`` here, continued by the 2D
  refinement) so that the model's hips and shoulders (collars at rest) match the landmarks.
  Prior: trunk flexion/extension about the pelvis's left-right axis cannot be told apart from
  pelvis tilt with hips and shoulders only, so it is given to the pelvis; the spine carries
  lateral bend and axial twist (the y and z components of ``r``), spread evenly over its three
  joints. Start: pelvis frame from the hip axis and the hip -> shoulder midpoint direction.
- Head: rotation fitted (Kabsch) to the nose, eyes and ears; the neck and head joints share
  the rotation from spine3 to the head equally (prior).
- Arms and legs: two-bone hinge chains (``chains.py``): shoulder swing + twist from the bent
  elbow, elbow = hinge; hip swing + twist from the bent knee, knee = hinge. Elbows flex
  towards +z of the rest pose (forward), knees towards -z (backward).
- Ankles: rotation fitted to ankle, heel and toe (three points give all three angles);
  toes (``left_foot``/``right_foot`` joints) at rest; ankle rotation clamped to 60 degrees.
- Collars, wrists (until the hand stage), jaw and eyes: rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.body_model.keypoint_sets import MEDIAPIPE_POSE_TO_SMPLX127
from robosmplx_core.estimate.solver import so3
from robosmplx_core.estimate.solver.chains import HingeChains, solve_hinge_chains
from robosmplx_core.estimate.solver.keypoints import HEAD_POSE_IDS, MP, J
from robosmplx_core.estimate.solver.linalg import solve_spd

TORSO_ITERATIONS = 1  # Gauss-Newton steps here; the refinement (refine.py) continues the fit
ANKLE_MAX_RAD = np.radians(60.0)
ARM_MAX_TWIST_RAD = np.radians(100.0)
LEG_MAX_TWIST_RAD = np.radians(60.0)
SPINE = (J["spine1"], J["spine2"], J["spine3"])
_PROBE_STEP = 1e-6
# Finite-difference probes of the torso fit: identity, then the pelvis turned about world x, y, z
# (left factors) and the spine turned about its local y, z (right factors), first order in the step.
_PELVIS_PROBES = np.eye(3) + _PROBE_STEP * so3.skew(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0],
                                                                  [0, 0, 0], [0, 0, 0]]))
_SPINE_PROBES = np.eye(3) + _PROBE_STEP * so3.skew(np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0],
                                                                 [0, 1.0, 0], [0, 0, 1.0]]))
_TORSO_DAMPING = 1e-6 * np.eye(5)
TORSO_LANDMARKS = np.array([MP["left_hip"], MP["right_hip"], MP["left_shoulder"], MP["right_shoulder"]])

# Limbs, vectorised: left arm, right arm, left leg, right leg.
_LIMBS = ((("shoulder", "elbow", "wrist"), "left"), (("shoulder", "elbow", "wrist"), "right"),
          (("hip", "knee", "ankle"), "left"), (("hip", "knee", "ankle"), "right"))
LIMB_JOINTS = np.array([[J[f"{s}_{a}"] for a in names] for names, s in _LIMBS])
LIMB_LANDMARKS = np.array([[MP[f"{s}_{a}"] for a in names] for names, s in _LIMBS])
LIMB_FLEX = np.array([[0, 0, 1.0], [0, 0, 1.0], [0, 0, -1.0], [0, 0, -1.0]])
LIMB_MAX_TWIST = np.array([ARM_MAX_TWIST_RAD, ARM_MAX_TWIST_RAD, LEG_MAX_TWIST_RAD, LEG_MAX_TWIST_RAD])
FOOT_LANDMARKS = np.array([[MP[f"{s}_{n}"] for n in ("ankle", "heel", "foot_index")] for s in ("left", "right")])
FOOT_POINTS = MEDIAPIPE_POSE_TO_SMPLX127[FOOT_LANDMARKS]  # (2, 3) SMPL-X ankle, heel, big toe
HEAD_POINTS = MEDIAPIPE_POSE_TO_SMPLX127[HEAD_POSE_IDS]


@dataclass(frozen=True)
class BodyIK:
    """Rest-pose constants of the body inverse kinematics (one body shape, built once).

    Fields:
        hips: (2, 3) left and right hip minus their midpoint.
        spine_bones: (3, 3) spine1 - hip midpoint, spine2 - spine1, spine3 - spine2.
        shoulders: (2, 3) left and right shoulder minus spine3 (collars at rest).
        rest_frame_t: (3, 3) transposed torso frame of the rest pose (see ``_frame``).
        limbs: the four limb chains (arm L, R, leg L, R).
        kabsch_src: (3, 9, 3) rest points of the head landmarks, and of ankle, heel, toe per
            foot (padded); kabsch_weight: (3, 9) 1 where a foot point exists.
    """

    hips: np.ndarray
    spine_bones: np.ndarray
    shoulders: np.ndarray
    rest_frame_t: np.ndarray
    limbs: HingeChains
    kabsch_src: np.ndarray
    kabsch_weight: np.ndarray

    @classmethod
    def from_rest(cls, rest_joints: np.ndarray, rest_points: np.ndarray) -> "BodyIK":
        """From the rest joints (55, 3) and rest output points (127, 3) of one body shape."""
        j = rest_joints
        mid = 0.5 * (j[J["left_hip"]] + j[J["right_hip"]])
        s1, s2, s3 = SPINE
        hips = np.stack([j[J["left_hip"]], j[J["right_hip"]]]) - mid
        spine_bones = np.stack([j[s1] - mid, j[s2] - j[s1], j[s3] - j[s2]])
        shoulders = np.stack([j[J["left_shoulder"]], j[J["right_shoulder"]]]) - j[s3]
        top = spine_bones.sum(0) + shoulders  # shoulders relative to the hip midpoint
        limb = j[LIMB_JOINTS]
        src = np.zeros((3, len(HEAD_POINTS), 3))
        weight = np.zeros((3, len(HEAD_POINTS)))
        src[0], src[1:, :3], weight[1:, :3] = rest_points[HEAD_POINTS], rest_points[FOOT_POINTS], 1.0
        return cls(hips=hips, spine_bones=spine_bones, shoulders=shoulders,
                   rest_frame_t=_frame(hips[0] - hips[1], top[0] + top[1]).T,
                   limbs=HingeChains.build(limb[:, 1] - limb[:, 0], limb[:, 2] - limb[:, 1], LIMB_FLEX, LIMB_MAX_TWIST),
                   kabsch_src=src, kabsch_weight=weight)

    def torso_points(self, pelvis: np.ndarray, spine: np.ndarray) -> np.ndarray:
        """Hips and shoulders (..., 4, 3) relative to the hip midpoint for pelvis rotations
        (..., 3, 3) and spine rotations (..., 3, 3) (each of spine1/2/3)."""
        b = self.spine_bones
        r2 = spine @ spine
        spine3 = b[0] + (spine @ b[1]) + (r2 @ b[2])  # (..., 3) in the pelvis frame
        shoulders = spine3[..., None, :] + self.shoulders @ np.swapaxes(r2 @ spine, -1, -2)
        pts = np.concatenate([np.broadcast_to(self.hips, shoulders.shape), shoulders], -2)
        return pts @ np.swapaxes(pelvis, -1, -2)


def _frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frame (3, 3), columns: primary, secondary made perpendicular, their cross."""
    e1 = so3.normalize(primary, np.array([1.0, 0.0, 0.0]))
    e2 = so3.normalize(secondary - np.dot(secondary, e1) * e1, np.array([0.0, 1.0, 0.0]))
    return np.stack([e1, e2, so3.cross(e1, e2)], -1)


def solve_torso(ik: BodyIK, world: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis global rotation (3, 3) and the spine1/2/3 local rotation (3, 3), see module doc."""
    obs = world[TORSO_LANDMARKS]
    obs = obs - 0.5 * (obs[0] + obs[1])
    weight = np.repeat(np.sqrt(np.maximum(vis[TORSO_LANDMARKS], 0.05)), 3)
    pelvis = _frame(obs[0] - obs[1], obs[2] + obs[3]) @ ik.rest_frame_t
    spine = so3.EYE3
    for _ in range(TORSO_ITERATIONS):
        pts = ik.torso_points(_PELVIS_PROBES @ pelvis, spine @ _SPINE_PROBES).reshape(6, -1)  # (6, 12)
        res = (pts[0] - obs.ravel()) * weight
        jac = ((pts[1:] - pts[0]) * (weight / _PROBE_STEP)).T  # (12, 5)
        delta = solve_spd(jac.T @ jac + _TORSO_DAMPING, -jac.T @ res)
        inc = so3.rotvec_to_matrix(np.array([delta[:3], [0.0, delta[3], delta[4]]]))
        pelvis, spine = inc[0] @ pelvis, spine @ inc[1]
    spine_vec = so3.matrix_to_rotvec(spine) * np.array([0.0, 1.0, 1.0])  # exactly no flexion
    return pelvis, so3.rotvec_to_matrix(spine_vec)


def solve_body(ik: BodyIK, world: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Global rotations (55, 3, 3) of the whole skeleton from the world landmarks (33, 3) and
    their visibility (33,) (see module doc); hands, wrists, toes, jaw and eyes follow their
    parents (identity local rotation)."""
    glob = np.empty((55, 3, 3))
    pelvis, spine = solve_torso(ik, world, vis)
    glob[0] = pelvis
    glob[J["spine1"]] = pelvis @ spine
    glob[J["spine2"]] = glob[J["spine1"]] @ spine
    top = glob[J["spine2"]] @ spine
    glob[[J["spine3"], J["left_collar"], J["right_collar"]]] = top
    dst = np.zeros_like(ik.kabsch_src)
    dst[0], dst[1:, :3] = world[HEAD_POSE_IDS], world[FOOT_LANDMARKS]
    weight = ik.kabsch_weight.copy()
    weight[0] = np.maximum(vis[HEAD_POSE_IDS], 0.05)
    head, left_ankle, right_ankle = so3.kabsch(ik.kabsch_src, dst, weight)
    neck = so3.fractional(top.T @ head, 0.5)  # neck and head share the rotation (prior)
    glob[J["neck"]] = top @ neck
    glob[[J["head"], J["jaw"], J["left_eye_smplhf"], J["right_eye_smplhf"]]] = glob[J["neck"]] @ neck
    w = world[LIMB_LANDMARKS]
    prox, mid = solve_hinge_chains(ik.limbs, np.stack([top, top, pelvis, pelvis]), w[:, 1] - w[:, 0], w[:, 2] - w[:, 1])
    glob[LIMB_JOINTS[:, 0]] = prox
    glob[LIMB_JOINTS[:, 1]] = mid
    knees = mid[2:]
    ankles = knees @ so3.clamp_angle(np.swapaxes(knees, -1, -2) @ np.stack([left_ankle, right_ankle]), ANKLE_MAX_RAD)
    glob[[J["left_ankle"], J["left_foot"]]] = ankles[0]
    glob[[J["right_ankle"], J["right_foot"]]] = ankles[1]
    glob[[J["left_wrist"], *range(25, 40)]] = mid[0]
    glob[[J["right_wrist"], *range(40, 55)]] = mid[1]
    return glob


def locals_from_globals(glob: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Parent-relative rotations (55, 3, 3) from global ones (55, 3, 3)."""
    local = np.swapaxes(glob[np.maximum(parents, 0)], -1, -2) @ glob
    local[0] = glob[0]
    return local
