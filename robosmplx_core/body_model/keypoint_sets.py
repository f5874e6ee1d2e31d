"""Keypoint sets of other conventions and their maps onto the SMPL-X joint outputs.

Every ``*_TO_SMPLX127`` / ``*_TO_SMPLX144`` array is an index map in the sense of
``joints.index_map``: entry ``k`` is the SMPL-X output joint (127 set, or 144 set built with
``use_face_contour=True``) that corresponds to keypoint ``k`` of the other convention, -1 where
there is none; apply it with ``joints.gather_joints(smplx_joints, MAP)``. Correspondences are by
meaning, not by exact anatomy: e.g. SMPL-X hip joints sit inside the pelvis while COCO and
MediaPipe hips are nearer the surface. "left"/"right" are the subject's left and right. Arrays
are read-only int64.

Sets:
    - ``WHOLEBODY137``: the 137 whole-body keypoints of Hand4Whole / OSX (Moon et al.) that
      RoboSMPLX's Body subnetwork predicts (J = 137): 25 body + 2 x 20 hand (no wrist; the
      wrists are body keypoints) + 72 face. Names and indices reproduce ``SMPLX.joints_name``
      and ``SMPLX.joint_idx`` of ``common/utils/human_models.py`` in IDEA-Research/OSX, which
      Hand4Whole also uses (indices into the 144 set; every entry is a plain index, none a
      midpoint). Hand4Whole calls the face entries ``Face_1`` .. ``Face_72``; here they are
      named after their SMPL-X joint, except ``Face_3`` / ``Face_4``, the eyeballs, which reuse
      the body's eye points and are named ``left_eyeball`` / ``right_eyeball``.
    - ``COCO_WHOLEBODY``: the 133 COCO-WholeBody keypoints (17 body, 6 feet, 68 face in the
      iBUG-68 layout, 21 left hand, 21 right hand), names as in the dataset / mmpose.
    - ``MEDIAPIPE_POSE`` (33, ``PoseLandmark`` order), ``MEDIAPIPE_HAND`` (21, ``HandLandmark``
      order) and well-known MediaPipe face-mesh indices (468 points, 478 with irises).
"""

from __future__ import annotations

import numpy as np

from robosmplx_core.body_model.joints import (
    SMPLX_127_NAMES,
    SMPLX_144_NAMES,
    SMPLX_FACE_CONTOUR_NAMES,
    SMPLX_FACE_LANDMARK_NAMES,
    drop_face_contour,
    index_map,
)

__all__ = [
    "SMPLX_LEFT_HAND21_NAMES", "SMPLX_RIGHT_HAND21_NAMES",
    "WHOLEBODY137_NAMES", "WHOLEBODY137_TO_SMPLX144", "WHOLEBODY137_TO_SMPLX127",
    "WHOLEBODY137_BODY", "WHOLEBODY137_LEFT_HAND", "WHOLEBODY137_RIGHT_HAND", "WHOLEBODY137_FACE",
    "COCO_WHOLEBODY_NAMES", "COCO_WHOLEBODY_TO_SMPLX144", "COCO_WHOLEBODY_TO_SMPLX127",
    "MEDIAPIPE_POSE_NAMES", "MEDIAPIPE_HAND_NAMES", "MEDIAPIPE_POSE_TO_SMPLX_NAMES",
    "MEDIAPIPE_POSE_TO_SMPLX127", "MEDIAPIPE_HAND_TO_SMPLX127_LEFT", "MEDIAPIPE_HAND_TO_SMPLX127_RIGHT",
    "MEDIAPIPE_FACE_MESH_NUM_LANDMARKS", "MEDIAPIPE_FACE_MESH_NUM_LANDMARKS_WITH_IRISES",
    "MEDIAPIPE_FACE_MESH_INDEX", "MEDIAPIPE_FACE_MESH_TO_SMPLX_NAMES",
]  # fmt: skip


def _frozen(indices: np.ndarray | tuple[int, ...]) -> np.ndarray:
    arr = np.array(indices, dtype=np.int64)
    arr.flags.writeable = False
    return arr


def _hand21(side: str) -> tuple[str, ...]:
    """Wrist, then thumb, index, middle, ring, pinky, each proximal -> tip (tips are the
    SMPL-X vertex joints named after the finger)."""
    names = [f"{side}_wrist"]
    for finger in ("thumb", "index", "middle", "ring", "pinky"):
        names += [f"{side}_{finger}1", f"{side}_{finger}2", f"{side}_{finger}3", f"{side}_{finger}"]
    return tuple(names)


SMPLX_LEFT_HAND21_NAMES = _hand21("left")
SMPLX_RIGHT_HAND21_NAMES = _hand21("right")
"""The 21 SMPL-X hand keypoints per side (the Hand subnetwork's J = 21), in the order shared by
COCO-WholeBody, MediaPipe and FreiHAND/OpenPose hands: wrist, thumb 1-4, index 1-4, middle 1-4,
ring 1-4, pinky 1-4 (4 = fingertip)."""

# ----------------------------------------------------------------------------------------------
# Hand4Whole / OSX 137 whole-body keypoints
# ----------------------------------------------------------------------------------------------

WHOLEBODY137_NAMES: tuple[str, ...] = (
    (
        "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "neck", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
        "right_small_toe", "right_heel", "left_ear", "right_ear", "left_eye", "right_eye", "nose",
    )
    + SMPLX_LEFT_HAND21_NAMES[1:]
    + SMPLX_RIGHT_HAND21_NAMES[1:]
    + ("jaw", "head", "left_eyeball", "right_eyeball")
    + SMPLX_FACE_LANDMARK_NAMES
    + SMPLX_FACE_CONTOUR_NAMES
)  # fmt: skip

WHOLEBODY137_TO_SMPLX144 = _frozen((
    0, 1, 2, 4, 5, 7, 8, 12, 16, 17, 18, 19, 20, 21, 60, 61, 62, 63, 64, 65, 59, 58, 57, 56, 55,
    37, 38, 39, 66, 25, 26, 27, 67, 28, 29, 30, 68, 34, 35, 36, 69, 31, 32, 33, 70,  # left hand
    52, 53, 54, 71, 40, 41, 42, 72, 43, 44, 45, 73, 49, 50, 51, 74, 46, 47, 48, 75,  # right hand
    22, 15, 57, 56,  # jaw, head, eyeballs
    *range(76, 127),  # 51 face landmarks: brows, nose, eyes, mouth, lips
    *range(127, 144),  # 17 face contour
))  # fmt: skip
WHOLEBODY137_TO_SMPLX127 = _frozen(drop_face_contour(WHOLEBODY137_TO_SMPLX144))
"""Into the 127 set the 17 contour entries are -1 (build the model with use_face_contour)."""

WHOLEBODY137_BODY = slice(0, 25)
WHOLEBODY137_LEFT_HAND = slice(25, 45)
WHOLEBODY137_RIGHT_HAND = slice(45, 65)
WHOLEBODY137_FACE = slice(65, 137)

# ----------------------------------------------------------------------------------------------
# COCO-WholeBody 133
# ----------------------------------------------------------------------------------------------

_COCO_BODY_FEET = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
    "right_heel",
)  # fmt: skip


def _coco_hand(side: str) -> tuple[str, ...]:
    names = [f"{side}_hand_root"]
    for finger in ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger"):
        names += [f"{side}_{finger}{k}" for k in range(1, 5)]
    return tuple(names)


COCO_WHOLEBODY_NAMES: tuple[str, ...] = (
    _COCO_BODY_FEET + tuple(f"face-{k}" for k in range(68)) + _coco_hand("left") + _coco_hand("right")
)


def _coco_wholebody_to_smplx144() -> np.ndarray:
    # Body and feet: COCO names equal SMPL-X names. Face: iBUG point k < 17 is contour k
    # (joint 127 + k), k >= 17 is landmark k - 17 (joint 76 + k - 17). Hands: same order as
    # SMPLX_*_HAND21_NAMES (root = wrist, thumb1..4, forefinger = index, ...; 4 = tip).
    body = index_map(SMPLX_144_NAMES, _COCO_BODY_FEET)
    face = [127 + k if k < 17 else 76 + (k - 17) for k in range(68)]
    left = index_map(SMPLX_144_NAMES, SMPLX_LEFT_HAND21_NAMES)
    right = index_map(SMPLX_144_NAMES, SMPLX_RIGHT_HAND21_NAMES)
    return np.concatenate([body, face, left, right])


COCO_WHOLEBODY_TO_SMPLX144 = _frozen(_coco_wholebody_to_smplx144())
COCO_WHOLEBODY_TO_SMPLX127 = _frozen(drop_face_contour(COCO_WHOLEBODY_TO_SMPLX144))

# ----------------------------------------------------------------------------------------------
# MediaPipe
# ----------------------------------------------------------------------------------------------

MEDIAPIPE_POSE_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
"""``mediapipe.solutions.pose.PoseLandmark`` names, lower case, in enum order (33)."""

MEDIAPIPE_HAND_NAMES: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_finger_mcp",
    "index_finger_pip", "index_finger_dip", "index_finger_tip", "middle_finger_mcp",
    "middle_finger_pip", "middle_finger_dip", "middle_finger_tip", "ring_finger_mcp",
    "ring_finger_pip", "ring_finger_dip", "ring_finger_tip", "pinky_mcp", "pinky_pip",
    "pinky_dip", "pinky_tip",
)  # fmt: skip
"""``mediapipe.solutions.hands.HandLandmark`` names, lower case, in enum order (21)."""

MEDIAPIPE_POSE_TO_SMPLX_NAMES: dict[str, str] = {
    "nose": "nose",
    "left_eye_inner": "left_eye4", "left_eye": "left_eye", "left_eye_outer": "left_eye1",
    "right_eye_inner": "right_eye4", "right_eye": "right_eye", "right_eye_outer": "right_eye1",
    "left_ear": "left_ear", "right_ear": "right_ear",
    "mouth_left": "left_mouth_1", "mouth_right": "right_mouth_1",
    "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow", "right_elbow": "right_elbow",
    "left_wrist": "left_wrist", "right_wrist": "right_wrist",
    "left_hip": "left_hip", "right_hip": "right_hip",
    "left_knee": "left_knee", "right_knee": "right_knee",
    "left_ankle": "left_ankle", "right_ankle": "right_ankle",
    "left_heel": "left_heel", "right_heel": "right_heel",
    "left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe",
}  # fmt: skip
"""Pose landmark -> SMPL-X joint name. The pose model's coarse hand points (``*_pinky``,
``*_index``, ``*_thumb``) have no reliable SMPL-X counterpart and are left out (-1): use the
hand landmarks instead."""

MEDIAPIPE_POSE_TO_SMPLX127 = _frozen(
    index_map(SMPLX_127_NAMES, [MEDIAPIPE_POSE_TO_SMPLX_NAMES.get(n, "") for n in MEDIAPIPE_POSE_NAMES])
)
MEDIAPIPE_HAND_TO_SMPLX127_LEFT = _frozen(index_map(SMPLX_127_NAMES, SMPLX_LEFT_HAND21_NAMES))
MEDIAPIPE_HAND_TO_SMPLX127_RIGHT = _frozen(index_map(SMPLX_127_NAMES, SMPLX_RIGHT_HAND21_NAMES))
"""Hand landmark k (wrist, thumb CMC/MCP/IP/TIP, index MCP/PIP/DIP/TIP, ...) -> SMPL-X joint
(wrist, thumb1/2/3/tip, index1/2/3/tip, ...) of the hand MediaPipe classified as that side."""

MEDIAPIPE_FACE_MESH_NUM_LANDMARKS = 468
MEDIAPIPE_FACE_MESH_NUM_LANDMARKS_WITH_IRISES = 478  # + 5 per iris (centre, then 4 on the rim)

MEDIAPIPE_FACE_MESH_INDEX: dict[str, int] = {
    "nose_tip": 1, "chin": 152, "forehead": 10,
    "left_eye_outer": 263, "left_eye_inner": 362, "right_eye_outer": 33, "right_eye_inner": 133,
    "mouth_left": 291, "mouth_right": 61,
    "upper_lip_inner": 13, "lower_lip_inner": 14, "upper_lip_outer": 0, "lower_lip_outer": 17,
    "left_brow_inner": 336, "left_brow_outer": 300, "right_brow_inner": 107, "right_brow_outer": 70,
    "left_iris_center": 473, "right_iris_center": 468,
}  # fmt: skip
"""Well-known face-mesh landmark indices (the canonical face model's numbering; iris centres
need the 478-point model). Sides follow MediaPipe's ``FACEMESH_LEFT_*`` / ``FACEMESH_RIGHT_*``
connection sets, which name the subject's left and right."""

MEDIAPIPE_FACE_MESH_TO_SMPLX_NAMES: dict[str, str] = {
    "nose_tip": "nose4", "chin": "contour_middle",
    "left_eye_outer": "left_eye1", "left_eye_inner": "left_eye4",
    "right_eye_outer": "right_eye1", "right_eye_inner": "right_eye4",
    "mouth_left": "left_mouth_1", "mouth_right": "right_mouth_1",
    "upper_lip_inner": "lip_top", "lower_lip_inner": "lip_bottom",
    "upper_lip_outer": "mouth_top", "lower_lip_outer": "mouth_bottom",
    "left_brow_inner": "left_eye_brow5", "left_brow_outer": "left_eye_brow1",
    "right_brow_inner": "right_eye_brow5", "right_brow_outer": "right_eye_brow1",
    "left_iris_center": "left_eye", "right_iris_center": "right_eye",
}  # fmt: skip
"""Face-mesh landmark name (key of ``MEDIAPIPE_FACE_MESH_INDEX``) -> SMPL-X joint name (in the
144 set; ``contour_middle`` needs ``use_face_contour``). Brow points are approximate (the mesh
brow is a band, iBUG brows a line)."""
