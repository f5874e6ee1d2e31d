"""``LandmarkSolver``: MediaPipe whole-body landmarks of one person -> SMPL-X in the camera frame.

    solver = LandmarkSolver.from_body_model(BodyModel.load())
    result = solver.solve(landmarks, K)          # K (3, 3) pixels; or image_size_wh=(W, H)
    result.params, result.confidence, result.joints3d, result.joints2d

Stages (numpy; per-model constants are precomputed; no mesh forward pass):
    1. body: inverse kinematics on the metric world landmarks, at the mean shape (``body_ik.py``);
    2. translation: closed-form least squares against the 2D pose landmarks (``translation.py``);
    3. hands: wrist orientation and finger rotations from the hand landmarks, lifted to 3D at
       the wrist's depth (``hands.py``); absent hands keep the rest pose, confidence 0;
    4. refinement: Gauss-Newton on translation, betas and the main body rotations against the
       2D landmarks (pose, palm and rigid face points), with the world landmarks as a 3D prior
       (``refine.py``);
    5. face: jaw (first guess from the mouth aperture, before 4) and expression from the face
       landmarks (``face.py``); absent face -> rest jaw, neutral expression, confidence 0.
Without calibration, K = ``default_intrinsics(W, H)`` (60 degree horizontal field of view).
Per-part confidence: body = mean visibility of shoulders, elbows, wrists, hips, knees, ankles;
a hand = 0.5 + 0.5 x its pose wrist visibility when the hand landmarks are present, else 0;
face = 0.5 + 0.5 x mean visibility of nose, eyes and mouth corners when present, else 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.estimate.solver import so3
from robosmplx_core.estimate.solver.body_ik import BodyIK, locals_from_globals, solve_body
from robosmplx_core.estimate.solver.face import FaceModel, FaceSettings, aperture, fit_face, observed_face
from robosmplx_core.estimate.solver.hands import HandIK, lift_hand, solve_hands
from robosmplx_core.estimate.solver.keypoints import (
    BODY_CONFIDENCE_IDS, FACE_CONFIDENCE_IDS, FACE_RIGID, FACE_TO_POINTS, HAND_PALM, HAND_TO_POINTS, POSE_IDS,
    POSE_TO_POINTS, MP, J, P,
)
from robosmplx_core.estimate.solver.refine import (
    Observations, RefineSettings, RefineStructure, refine, refine_structure,
)
from robosmplx_core.estimate.solver.skeleton import SkeletonModel
from robosmplx_core.estimate.solver.translation import solve_translation
from robosmplx_core.geometry.projection import DEFAULT_FOV_DEG, default_intrinsics
from robosmplx_core.types import PartConfidence, PersonEstimate, SMPLXParams

WRIST_MAX_RAD = np.radians(100.0)
SIDES = ("left", "right")


@dataclass(frozen=True)
class SolverConfig:
    """Solver options.

    Fields:
        estimate_betas: estimate the shape jointly with the pose in the refinement (else the
            mean shape).
        palm_weight: 2D weight of each palm landmark (wrist + 4 MCPs) in the refinement,
            relative to a fully visible pose landmark.
        face_weight: the same for each rigid face landmark (nose, eye corners).
        refine: Gauss-Newton settings; face: jaw/expression regularisation.
        default_fov_deg: horizontal field of view used when ``solve`` gets no K.
    """

    estimate_betas: bool = True
    palm_weight: float = 1.0
    face_weight: float = 0.5
    refine: RefineSettings = field(default_factory=RefineSettings)
    face: FaceSettings = field(default_factory=FaceSettings)
    default_fov_deg: float = DEFAULT_FOV_DEG


@dataclass(frozen=True)
class SolverResult:
    """One person's solution.

    Fields:
        params: SMPL-X parameters, B = 1, float32, camera frame (``transl`` in metres).
        confidence: per-part confidence from landmark visibility / presence.
        joints3d: (127, 3) float32 SMPL-X output points, camera frame, metres.
        joints2d: (127, 2) float32 their projections, pixels.
        reprojection_px: visibility-weighted mean distance between the projected model points
            and the 27 mapped 2D pose landmarks.
    """

    params: SMPLXParams
    confidence: PartConfidence
    joints3d: np.ndarray
    joints2d: np.ndarray
    reprojection_px: float

    def to_person_estimate(self, *, track_id: int, box_xyxy: np.ndarray, score: float) -> PersonEstimate:
        """Wrap as the pipeline's ``PersonEstimate``."""
        return PersonEstimate(track_id=track_id, box_xyxy=box_xyxy, score=score, params=self.params,
                              joints3d=self.joints3d, joints2d=self.joints2d, confidence=self.confidence)


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    homog = points @ K.T
    return homog[:, :2] / np.maximum(homog[:, 2:], 1e-6)


def _to_params(local: np.ndarray, betas: np.ndarray, expression: np.ndarray, t: np.ndarray) -> SMPLXParams:
    def f(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)[None])

    return SMPLXParams(global_orient=f(local[0]), body_pose=f(local[1:22]), jaw_pose=f(local[22]),
                       leye_pose=f(local[23]), reye_pose=f(local[24]), left_hand_pose=f(local[25:40]),
                       right_hand_pose=f(local[40:55]), betas=f(betas), expression=f(expression), transl=f(t))


class LandmarkSolver:
    """Fast landmark -> SMPL-X solver: about 3 ms per person on one CPU core (numpy only;
    ``benchmarks/solver_speed.py``). Build once per body model with ``from_body_model``; a
    solver keeps no per-person state (only a cache of per-model constants), so one instance
    serves every track."""

    def __init__(self, *, skeleton: SkeletonModel, body_ik: BodyIK, hand_ik: HandIK, face_model: FaceModel,
                 config: SolverConfig | None = None) -> None:
        self.skeleton = skeleton
        self.body_ik = body_ik
        self.hand_ik = hand_ik
        self.face_model = face_model
        self.config = config or SolverConfig()
        self._rest = skeleton.rest()  # the mean shape, where the inverse kinematics runs
        self._refine_settings = dataclasses.replace(
            self.config.refine, fit_betas=self.config.refine.fit_betas and self.config.estimate_betas)
        self._structures: dict[tuple[tuple[str, ...], bool], RefineStructure] = {}  # by (hands, face)

    @classmethod
    def from_body_model(cls, model, config: SolverConfig | None = None) -> "LandmarkSolver":
        """Precompute the per-model constants from a ``BodyModel`` (stand-in or real SMPL-X)."""
        skeleton = SkeletonModel.from_body_model(model)
        rest = skeleton.rest()
        rest_points = skeleton.rest_points(rest)
        return cls(skeleton=skeleton, body_ik=BodyIK.from_rest(rest.joints, rest_points),
                   hand_ik=HandIK.from_rest(rest_points), face_model=FaceModel.from_skeleton(skeleton), config=config)

    def intrinsics(self, K: np.ndarray | None, image_size_wh: tuple[int, int] | None) -> np.ndarray:
        """(3, 3) float64 K: the given one, or the default for ``image_size_wh``."""
        if K is not None:
            K = np.asarray(K, np.float64)
            if (K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0
                    or K[1, 0] != 0 or np.any(K[2] != (0.0, 0.0, 1.0))):
                raise ValueError("K: expected finite pinhole intrinsics [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with "
                                 f"fx, fy > 0, got {K.tolist()}; divide K by K[2, 2] if it is scaled")
            return K
        if image_size_wh is None:
            raise ValueError("LandmarkSolver.solve: give the intrinsics K (3, 3) or image_size_wh=(W, H) "
                             f"to use the default {self.config.default_fov_deg} degree field of view")
        w, h = image_size_wh
        return default_intrinsics(int(w), int(h), self.config.default_fov_deg).double().numpy()

    def solve(self, landmarks: PersonLandmarks, K: np.ndarray | None = None, *,
              image_size_wh: tuple[int, int] | None = None) -> SolverResult:
        """Solve SMPL-X for one person's landmarks (see the module doc for the stages).

        Args:
            landmarks: one person's MediaPipe Holistic landmarks in full-image pixels.
            K: (3, 3) pinhole intrinsics of that image; or None and ``image_size_wh`` (W, H)
                for the default 60 degree horizontal field of view.
        """
        if not isinstance(landmarks, PersonLandmarks):
            raise ValueError(f"landmarks: expected PersonLandmarks, got {type(landmarks).__name__}")
        K = self.intrinsics(K, image_size_wh)
        skel, cfg = self.skeleton, self.config
        world = landmarks.pose_world_m.astype(np.float64)
        vis = np.clip(landmarks.pose_visibility.astype(np.float64), 0.0, 1.0)
        pixels = landmarks.pose_px.astype(np.float64)
        betas = np.zeros(skel.num_betas)
        glob = solve_body(self.body_ik, world, vis)
        posed = skel.pose_globals(glob, self._rest, locals_from_globals(glob, skel.parents))
        t = solve_translation(posed.points[POSE_TO_POINTS], pixels[POSE_IDS], vis[POSE_IDS], K)
        hands = {s: getattr(landmarks, f"{s}_hand_px") for s in SIDES}
        hands = {s: h.astype(np.float64) for s, h in hands.items() if h is not None}
        if hands:
            self._add_hands(glob, hands, posed.joints[:, 2] + t[2], K)
        local = locals_from_globals(glob, skel.parents)
        face51 = None if landmarks.face_px is None else observed_face(landmarks.face_px.astype(np.float64))
        jaw_guess = 0.0 if face51 is None else self.face_model.jaw_from_aperture(aperture(face51))
        local[J["jaw"]] = so3.rotvec_to_matrix(np.array([jaw_guess, 0.0, 0.0]))
        obs = self._observations(world, vis, pixels, hands, face51)
        key = (obs.hands, face51 is not None)
        if key not in self._structures:
            self._structures[key] = refine_structure(skel, obs.points, obs.hips, obs.hands, self._refine_settings)
        local, t, betas, posed = refine(skel, self._structures[key], betas, local, t, obs, K, self._refine_settings)
        expression = np.zeros(skel.num_expression)
        if face51 is not None:
            jaw = jaw_guess
            for iteration in range(cfg.face.iterations):
                if iteration:
                    posed = skel.pose(local, skel.rest(betas, expression))
                jaw, expression = fit_face(skel, posed, t, face51, K, jaw, expression, jaw_guess, cfg.face)
                local[J["jaw"]] = so3.rotvec_to_matrix(np.array([jaw, 0.0, 0.0]))
        posed = skel.pose(local, skel.rest(betas, expression))
        return self._result(local, betas, expression, t, posed.points + t, pixels, vis, K, landmarks)

    def _add_hands(self, glob: np.ndarray, hands: dict[str, np.ndarray], depth: np.ndarray, K: np.ndarray) -> None:
        """Write wrist and finger global rotations into ``glob`` (55, 3, 3) in place, from hand
        landmarks (21, 3) per side lifted at the wrists' depths ``depth`` (55,) (camera frame)."""
        sides = tuple(hands)
        wrists = [J[f"{s}_wrist"] for s in sides]
        lifted = np.stack([lift_hand(hands[s], K, max(depth[w], 0.1)) for s, w in zip(sides, wrists)])
        hand_rot, fingers = solve_hands(self.hand_ik, lifted, sides)
        elbows = glob[[J[f"{s}_elbow"] for s in sides]]
        glob[wrists] = elbows @ so3.clamp_angle(np.swapaxes(elbows, -1, -2) @ hand_rot, WRIST_MAX_RAD)
        for k, (side, wrist) in enumerate(zip(sides, wrists)):
            start = J[f"{side}_index1"]
            glob[start:start + 15] = glob[wrist] @ (hand_rot[k].T @ fingers[k])

    def _observations(self, world, vis, pixels, hands: dict, face51) -> Observations:
        idx2, px2, w2 = [POSE_TO_POINTS], [pixels[POSE_IDS]], [vis[POSE_IDS]]
        for side, hand_px in hands.items():
            idx2.append(HAND_TO_POINTS[side][HAND_PALM])
            px2.append(hand_px[HAND_PALM, :2])
            w2.append(np.full(len(HAND_PALM), self.config.palm_weight))
        if face51 is not None:
            idx2.append(FACE_TO_POINTS[FACE_RIGID])
            px2.append(face51[FACE_RIGID, :2])
            w2.append(np.full(len(FACE_RIGID), self.config.face_weight))
        return Observations(
            points=np.concatenate(idx2), pixels=np.concatenate(px2), weights_2d=np.concatenate(w2),
            world_rows=np.arange(len(POSE_IDS)), world=world[POSE_IDS], weights_3d=vis[POSE_IDS],
            hips=np.array([P["left_hip"], P["right_hip"]]), hands=tuple(hands))

    def _result(self, local, betas, expression, t, joints3d, pixels, vis, K, landmarks) -> SolverResult:
        joints2d = _project(joints3d, K)
        err = np.linalg.norm(joints2d[POSE_TO_POINTS] - pixels[POSE_IDS], axis=1)
        w = vis[POSE_IDS]
        confidence = PartConfidence(
            body=float(vis[BODY_CONFIDENCE_IDS].mean()),
            left_hand=0.0 if landmarks.left_hand_px is None else 0.5 + 0.5 * float(vis[MP["left_wrist"]]),
            right_hand=0.0 if landmarks.right_hand_px is None else 0.5 + 0.5 * float(vis[MP["right_wrist"]]),
            face=0.0 if landmarks.face_px is None else 0.5 + 0.5 * float(vis[FACE_CONFIDENCE_IDS].mean()))
        return SolverResult(params=_to_params(local, betas, expression, t), confidence=confidence,
                            joints3d=joints3d.astype(np.float32), joints2d=joints2d.astype(np.float32),
                            reprojection_px=float((err * w).sum() / max(w.sum(), 1e-9)))
