"""Gauss-Newton refinement of translation, shape and the main body rotations against 2D landmarks.

Minimises, over the translation, the betas (optional) and a small set of joint rotations
(pelvis; spine, as one lateral-bend/twist rotation shared by spine1/2/3; neck+head, shared;
hips, knees, ankles, shoulders, elbows; wrists when that hand is observed):

    sum_i w_i rho(|proj(X_i + T) - x_i| / sigma_px)^2      2D landmarks (Huber rho)
  + sum_i w_i |(X_i - X_hips) - W_i|^2 / sigma_world^2      3D world landmarks, hip-centred
  + |beta|^2 / sigma_beta^2                                  shape prior (when fitted)
  + |delta|^2 / sigma_step^2                                 damping of each step

where X_i are the model's output points for landmark i, x_i the 2D landmarks and W_i the
world landmarks (which hold the depth that the 2D term cannot see). A group's rotation
increment is a world-frame rotation vector; its Jacobian on a point is ``omega x (X - P_j)``
summed over the group's joints j, each scaled by its share of the group's rotation and by how
much the point turns with that joint (``SkeletonModel.point_ancestry``). The step is applied
as the same rotation expressed in the group's parent frame and left-multiplied onto each of
the group's local rotations, which keeps shared rotations shared; the spine's flexion stays
zero (its increments have no x component; the second-order drift is removed at the end).
Each iteration costs one posing of the 127 points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.body_model.joints import NUM_SMPLX_JOINTS
from robosmplx_core.estimate.solver import so3
from robosmplx_core.estimate.solver.keypoints import J
from robosmplx_core.estimate.solver.linalg import gram, solve_spd
from robosmplx_core.estimate.solver.skeleton import Posed, SkeletonModel

# (joints, share of the group's rotation per joint); the spine group has 2 parameters.
GROUPS: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...] = (
    ((0,), (1.0,)),
    ((J["spine1"], J["spine2"], J["spine3"]), (1 / 3, 1 / 3, 1 / 3)),
    ((J["neck"], J["head"]), (0.5, 0.5)),
    *(((J[f"{s}_{n}"],), (1.0,)) for n in ("hip", "knee", "ankle", "shoulder", "elbow") for s in ("left", "right")),
)
SPINE_GROUP = 1
SPINE_DRIFT_RAD = 1e-3  # spine flexion left by the steps' second-order terms that is removed
MIN_DEPTH_M = 0.1  # the body is never stepped closer to the camera than this
BETAS_MAX = 3.0  # betas are clamped to +-3 (SMPL-X's shape space is meant for |beta| <~ 3)
WRIST_GROUPS = {"left": ((J["left_wrist"],), (1.0,)), "right": ((J["right_wrist"],), (1.0,))}


@dataclass(frozen=True)
class Observations:
    """What the refinement fits.

    Fields:
        points: (N,) indices into the 127 output points of the 2D landmarks.
        pixels: (N, 2) the 2D landmarks; weights_2d: (N,).
        world_rows: (M,) rows of ``points`` that also have a world landmark.
        world: (M, 3) hip-centred metric world landmarks; weights_3d: (M,).
        hips: (2,) output-point indices of the left and right hip (the world origin's model twin).
        hands: sides whose wrist rotation is refined ("left", "right").
    """

    points: np.ndarray
    pixels: np.ndarray
    weights_2d: np.ndarray
    world_rows: np.ndarray
    world: np.ndarray
    weights_3d: np.ndarray
    hips: np.ndarray
    hands: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefineSettings:
    """Noise scales and iteration count of the refinement (see module doc).

    Fields:
        iterations: at most this many Gauss-Newton steps (stops early below ``tolerance``).
        tolerance: largest parameter change (radians, metres or betas) that counts as converged.
        sigma_px: 2D landmark noise; huber_px: residuals beyond this count linearly.
        sigma_world_m: world landmark noise (metres, hip-centred).
        fit_betas: also refine the shape, with the prior beta ~ N(0, betas_sigma^2) (result
            clamped to +-BETAS_MAX).
        sigma_step_rad / sigma_step_m: damping of each step's rotations / translation.
    """

    iterations: int = 2
    tolerance: float = 1e-4
    sigma_px: float = 4.0
    huber_px: float = 12.0
    sigma_world_m: float = 0.03
    fit_betas: bool = True
    betas_sigma: float = 1.5
    sigma_step_rad: float = 0.5
    sigma_step_m: float = 1.0


@dataclass(frozen=True)
class RefineStructure:
    """Constants of a refinement that depend only on which points are observed (so a solver
    builds one per combination of present hands and face and reuses it)."""

    joints: np.ndarray  # (gj,) joints of all groups
    share: np.ndarray  # (gj,) share of the group's rotation per joint
    member: np.ndarray  # (gj,) group of each joint
    frame: np.ndarray  # (gj,) the joint whose global rotation is its group's parent frame (-1: world)
    idx: np.ndarray  # (n,) output points: the observed ones, then the two hips
    turn: np.ndarray  # (n, G) summed shares of each group that move each point
    weighted: np.ndarray  # (n * G, gj) share x ancestry per group, for the groups' rotation centres
    rows: np.ndarray  # (n, 55 + m) the points' rows of the point matrix: joints + used vertices
    vertices: np.ndarray  # (m,) the kept vertices the points use
    damping: np.ndarray  # (P,) diagonal added to the normal matrix (step damping, beta prior)


def refine_structure(skel: SkeletonModel, points: np.ndarray, hips: np.ndarray, hands: tuple[str, ...],
                     settings: RefineSettings) -> RefineStructure:
    """The constants for observations of ``points`` (N,) and ``hips`` (2,) (output-point
    indices) with the wrists of ``hands`` refined."""
    groups = list(GROUPS) + [WRIST_GROUPS[s] for s in hands]
    joints = np.array([j for g in groups for j in g[0]])
    share = np.array([f for g in groups for f in g[1]])
    member = np.concatenate([np.full(len(g[0]), k) for k, g in enumerate(groups)])
    frame = skel.parents[np.array([g[0][0] for g in groups])][member]
    idx = np.concatenate([points, hips])
    rows = skel.point_matrix[idx]
    used = np.nonzero(rows[:, NUM_SMPLX_JOINTS:].any(0))[0]
    scale = skel.point_ancestry[idx][:, joints] * share  # (n, gj)
    onehot = np.eye(len(groups))[member]  # (gj, G)
    n_rot = 3 * len(groups) - 1
    damping = np.concatenate([np.full(3, settings.sigma_step_m ** -2), np.full(n_rot, settings.sigma_step_rad ** -2),
                              np.full(skel.num_betas if settings.fit_betas else 0, settings.betas_sigma ** -2)])
    return RefineStructure(
        joints=joints, share=share, member=member, frame=frame, idx=idx, turn=scale @ onehot,
        weighted=(scale[:, None, :] * onehot.T[None]).reshape(-1, len(joints)),
        rows=np.concatenate([rows[:, :NUM_SMPLX_JOINTS], rows[:, NUM_SMPLX_JOINTS + used]], 1), vertices=used,
        damping=damping)


def _jacobian_3d(prob: RefineStructure, posed: Posed) -> np.ndarray:
    """(n, 3, 3 G - 1): derivative of the points w.r.t. each group's world rotation vector
    (the spine's restricted to the pelvis's y and z axes: no flexion)."""
    n = len(prob.idx)
    centre = (prob.weighted @ posed.joints[prob.joints]).reshape(n, -1, 3)
    arm = prob.turn[..., None] * posed.points[prob.idx][:, None, :] - centre  # (n, G, 3)
    jac = -so3.skew(arm).transpose(0, 2, 1, 3).reshape(n, 3, -1)
    s = 3 * SPINE_GROUP
    return np.concatenate([jac[..., :s], jac[..., s:s + 3] @ posed.rotations[0][:, 1:3], jac[..., s + 3:]], -1)


def _normal_equations(prob: RefineStructure, posed: Posed, shape_jac: np.ndarray | None, t: np.ndarray,
                      betas: np.ndarray, obs: Observations, K: np.ndarray,
                      settings: RefineSettings) -> tuple[np.ndarray, np.ndarray]:
    """(H, g) of the current linearisation; parameters: [T (3), rotations, betas (if fitted)].
    ``shape_jac`` (n, 3, NB): the points' derivative w.r.t. the betas, or None (not fitted)."""
    jac = _jacobian_3d(prob, posed)  # (n, 3, P - 3)
    if shape_jac is not None:
        jac = np.concatenate([jac, shape_jac], 2)
    n2 = len(obs.points)
    pts = posed.points[prob.idx]
    homog = (pts[:n2] + t) @ K.T
    homog[:, 2] = np.maximum(homog[:, 2], MIN_DEPTH_M)  # points behind the camera: finite, flagged by the step guard
    proj = homog[:, :2] / homog[:, 2:]
    dproj = (K[:2] - proj[:, :, None] * K[2]) / homog[:, 2:3, None]  # (n2, 2, 3)
    res2 = proj - obs.pixels
    huber = np.minimum(1.0, settings.huber_px / np.maximum(np.sqrt(so3.dot(res2, res2)), 1e-9))
    w2 = (np.sqrt(obs.weights_2d * huber) / settings.sigma_px)[:, None]
    j2 = np.concatenate([dproj, dproj @ jac[:n2]], 2) * w2[..., None]  # (n2, 2, P)
    rows = obs.world_rows
    w3 = (np.sqrt(obs.weights_3d) / settings.sigma_world_m)[:, None]
    res3 = (pts[rows] - 0.5 * (pts[n2] + pts[n2 + 1]) - obs.world) * w3
    j3 = (jac[rows] - 0.5 * (jac[n2] + jac[n2 + 1])) * w3[..., None]  # (M, 3, P - 3); T cancels
    a2 = j2.reshape(2 * n2, -1)
    a3 = j3.reshape(3 * len(rows), -1)
    h = gram(a2) + np.diag(prob.damping)
    h[3:, 3:] += gram(a3)
    g = a2.T @ (res2 * w2).ravel()
    g[3:] += a3.T @ res3.ravel()
    if shape_jac is not None:
        g[-len(betas):] += betas * settings.betas_sigma ** -2
    return h, g


def _apply(prob: RefineStructure, local: np.ndarray, glob: np.ndarray, step: np.ndarray) -> np.ndarray:
    """New local rotations (55, 3, 3) after the rotation part of a step (3 G - 1,)."""
    s = 3 * SPINE_GROUP
    world = np.concatenate([step[:s], glob[0][:, 1:3] @ step[s:s + 2], step[s + 2:]]).reshape(-1, 3)
    frames = np.where((prob.frame < 0)[:, None, None], so3.EYE3, glob[prob.frame])
    inc = (np.swapaxes(frames, -1, -2) @ world[prob.member][..., None])[..., 0] * prob.share[:, None]
    out = local.copy()
    out[prob.joints] = so3.rotvec_to_matrix(inc) @ local[prob.joints]
    return out


def refine(skel: SkeletonModel, prob: RefineStructure, betas: np.ndarray, local: np.ndarray, t: np.ndarray,
           obs: Observations, K: np.ndarray,
           settings: RefineSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray, Posed]:
    """Refined local rotations (55, 3, 3), translation (3,) and betas (NB,), plus the skeleton
    posed at the last linearisation point (up to one step behind the returned parameters: pose
    again for exact output points).

    ``prob`` must come from ``refine_structure`` for ``obs.points``, ``obs.hips``, ``obs.hands``.
    """
    n_rot = 3 * (len(GROUPS) + len(obs.hands)) - 1
    posed = skel.pose(local, skel.rest(betas))
    # The betas' Jacobian changes only with the rotations: the first iteration's is reused.
    shape_jac = skel.point_shapedirs(posed, prob.rows, prob.vertices) if settings.fit_betas else None
    for iteration in range(settings.iterations):
        if iteration:
            posed = skel.pose(local, skel.rest(betas))
        step = -solve_spd(*_normal_equations(prob, posed, shape_jac, t, betas, obs, K, settings))
        nearest = float((posed.points[prob.idx, 2] + t[2]).min())
        step[2] = max(step[2], -0.5 * (nearest - MIN_DEPTH_M))  # never step the body behind the camera
        local = _apply(prob, local, posed.rotations, step[3:3 + n_rot])
        t = t + step[:3]
        if settings.fit_betas:
            betas = betas + step[3 + n_rot:]
        if np.abs(step).max() < settings.tolerance:
            break
    betas = np.clip(betas, -BETAS_MAX, BETAS_MAX)
    spine = list(GROUPS[SPINE_GROUP][0])
    vec = so3.matrix_to_rotvec(local[spine[0]])
    if abs(vec[0]) > SPINE_DRIFT_RAD:  # remove the spine's second-order flexion drift
        local[spine] = so3.rotvec_to_matrix(vec * np.array([0.0, 1.0, 1.0]))
    return local, t, betas, posed
