"""Jaw opening and expression coefficients from MediaPipe face-mesh landmarks (numpy).

Model-agnostic: everything comes from the body model's own face landmarks (the 51 iBUG-68
points 17..67 that SMPL-X embeds barycentrically) and its expression basis, so it works with
the stand-in and with real SMPL-X files alike.

1. Jaw, first guess: the mouth aperture normalised by the eye-corner distance (scale-free,
   from the (u, v, relative depth) landmarks) looked up in a table of the model's own aperture
   against jaw angle (``FaceModel``, built once per model at rest, neutral face).
2. Jaw and expression together: with the body posed (head orientation from the body stage
   and the 2D refinement), the model's face landmarks are linear in the expression
   coefficients (skinned ``expr_dirs`` at the landmark barycentres) and, to first order, in
   the jaw angle (rotation about the head's x axis). A regularised linear least-squares solve
   (``FaceSettings.iterations`` Gauss-Newton steps, default one) matches their projections to
   the observed 2D landmarks, with a free 2D similarity (shift, scale, in-plane rotation)
   absorbing leftover head-pose error. Residuals are measured in units of the eye-corner
   distance so the regularisation does not depend on the face's size. Priors: expression
   ~ N(0, 1) per coefficient, jaw ~ N(aperture guess, 0.15 rad); jaw clamped to [0, 0.5] rad,
   expression to +-3.

Eyes (``leye_pose``/``reye_pose``) stay at rest: Holistic without iris refinement gives no gaze.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.estimate.solver import so3
from robosmplx_core.estimate.solver.keypoints import (
    FACE_EYE_OUTER, FACE_IBUG, FACE_INNER_LIPS, FACE_TO_POINTS, J, face_ibug68,
)
from robosmplx_core.estimate.solver.linalg import gram, solve_spd
from robosmplx_core.estimate.solver.skeleton import Posed, SkeletonModel

JAW_MAX_RAD = 0.5
EXPRESSION_MAX = 3.0
_EYE2 = np.eye(2)


@dataclass(frozen=True)
class FaceSettings:
    """Regularisation of the face fit (see module doc).

    Fields:
        sigma_rel: landmark noise as a fraction of the eye-corner distance.
        expression_sigma: prior standard deviation of each expression coefficient.
        jaw_sigma_rad: prior spread of the jaw angle around the aperture-table guess.
        iterations: Gauss-Newton steps (each after re-posing the face; the jaw is nonlinear).
    """

    sigma_rel: float = 0.03
    expression_sigma: float = 1.0
    jaw_sigma_rad: float = 0.15
    iterations: int = 1


@dataclass(frozen=True)
class FaceModel:
    """The model's mouth aperture (inner-lip gap / eye-corner distance) vs jaw angle.

    Fields:
        jaw_rad: (n,) increasing jaw angles; aperture: (n,) non-decreasing ratios.
    """

    jaw_rad: np.ndarray
    aperture: np.ndarray

    @classmethod
    def from_skeleton(cls, skel: SkeletonModel, *, max_rad: float = JAW_MAX_RAD, steps: int = 26) -> "FaceModel":
        """Tabulate the aperture at rest, mean shape, neutral expression."""
        rest = skel.rest()
        angles = np.linspace(0.0, max_rad, steps)
        ratios = []
        for angle in angles:
            local = np.tile(np.eye(3), (55, 1, 1))
            local[J["jaw"]] = so3.rotvec_to_matrix(np.array([angle, 0.0, 0.0]))
            ratios.append(aperture(skel.pose(local, rest).points[FACE_TO_POINTS]))
        return cls(jaw_rad=angles, aperture=np.maximum.accumulate(np.array(ratios)))

    def jaw_from_aperture(self, ratio: float) -> float:
        """Jaw angle (radians) whose model aperture equals ``ratio`` (clamped to the table)."""
        return float(np.interp(ratio, self.aperture, self.jaw_rad))


def aperture(face51: np.ndarray) -> float:
    """Inner-lip gap over eye-corner distance of (51, D) iBUG points 17..67."""
    gap = face51[FACE_INNER_LIPS[0]] - face51[FACE_INNER_LIPS[1]]
    eyes = face51[FACE_EYE_OUTER[0]] - face51[FACE_EYE_OUTER[1]]
    return float(np.sqrt(gap @ gap) / max(float(np.sqrt(eyes @ eyes)), 1e-9))


def observed_face(face_px: np.ndarray) -> np.ndarray:
    """(51, 3) iBUG points 17..67 from the face mesh (468, 3)."""
    return face_ibug68(face_px)[FACE_IBUG]


def fit_face(skel: SkeletonModel, posed: Posed, t: np.ndarray, face51: np.ndarray, K: np.ndarray, jaw: float,
             expression: np.ndarray, jaw_prior: float, settings: FaceSettings) -> tuple[float, np.ndarray]:
    """One Gauss-Newton step for the jaw angle (radians) and expression (NE,).

    Args:
        posed: the body posed with jaw angle ``jaw`` and expression ``expression`` (NE,).
        t: (3,) translation; face51: (51, 3) observed iBUG points (pixels + relative depth).
        jaw_prior: centre of the jaw prior (the aperture-table guess).

    Returns:
        The updated jaw angle (clamped to [0, JAW_MAX_RAD]) and expression (clamped to +-3).
    """
    idx = FACE_TO_POINTS
    cam = posed.points[idx] + t
    homog = cam @ K.T
    homog[:, 2] = np.maximum(homog[:, 2], 1e-3)
    proj = homog[:, :2] / homog[:, 2:]
    dproj = (K[:2] - proj[:, :, None] * K[2]) / homog[:, 2:3, None]  # (51, 2, 3)
    expr = dproj @ skel.point_exprdirs(posed, idx)  # (51, 2, NE)
    axis = posed.rotations[J["head"]][:, 0]
    arm = posed.points[idx] - posed.joints[J["jaw"]]
    jaw_col = (dproj @ so3.cross(axis, arm)[..., None])[..., 0] * skel.point_ancestry[idx, J["jaw"]][:, None]
    centred = proj - proj.mean(0)
    perp = np.stack([-centred[:, 1], centred[:, 0]], 1)
    shift = np.broadcast_to(_EYE2, (len(idx), 2, 2))
    design = np.concatenate([expr, jaw_col[..., None], shift, centred[..., None], perp[..., None]], 2)
    eyes = face51[FACE_EYE_OUTER[0], :2] - face51[FACE_EYE_OUTER[1], :2]
    size = max(float(np.sqrt(eyes @ eyes)), 1e-6)
    scale = 1.0 / (settings.sigma_rel * size)
    a = design.reshape(-1, design.shape[-1]) * scale
    r = (face51[:, :2] - proj).ravel() * scale
    ne = expr.shape[-1]
    prior = np.concatenate([np.full(ne, settings.expression_sigma ** -2), [settings.jaw_sigma_rad ** -2],
                            np.full(4, 1e-6)])
    centre = np.concatenate([expression, [jaw - jaw_prior], np.zeros(4)])  # distance from the priors' centres
    step = solve_spd(gram(a) + np.diag(prior), a.T @ r - prior * centre)
    expression = np.clip(expression + step[:ne], -EXPRESSION_MAX, EXPRESSION_MAX)
    return float(np.clip(jaw + step[ne], 0.0, JAW_MAX_RAD)), expression
