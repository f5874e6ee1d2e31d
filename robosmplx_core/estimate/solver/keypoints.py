"""Which landmark the solver compares with which SMPL-X point (index tables, no logic).

Indices into the 127 output points (``SMPLX_127_NAMES``) and into the MediaPipe layouts of
``PersonLandmarks`` (pose 33, hand 21, face mesh 468). "left"/"right" are the subject's.

The face-mesh -> iBUG-68 table is ours, written from the landmark meanings: each iBUG point
is one face-mesh vertex or the mean of two (nose bridge points lie between mesh vertices).
Points 0..16 (jaw line) are listed for completeness; SMPL-X has them only as dynamic contour
landmarks (``use_face_contour``), so the solver uses 17..67, i.e. SMPL-X points
``IBUG_TO_SMPLX127[k] = 59 + k``. Sides follow the existing ``MEDIAPIPE_FACE_MESH_INDEX``
(33 = right eye outer corner, 263 = left eye outer corner, 61 / 291 = right / left mouth corner,
1 = nose tip).
"""

from __future__ import annotations

import numpy as np

from robosmplx_core.body_model.joints import SMPLX_127_NAMES, SMPLX_JOINT_NAMES
from robosmplx_core.body_model.keypoint_sets import (
    MEDIAPIPE_HAND_TO_SMPLX127_LEFT,
    MEDIAPIPE_HAND_TO_SMPLX127_RIGHT,
    MEDIAPIPE_POSE_NAMES,
    MEDIAPIPE_POSE_TO_SMPLX127,
)


def _frozen(values) -> np.ndarray:
    arr = np.array(values, dtype=np.int64)
    arr.flags.writeable = False
    return arr


J = {name: i for i, name in enumerate(SMPLX_JOINT_NAMES)}
"""SMPL-X skeleton joint index by name (55)."""
P = {name: i for i, name in enumerate(SMPLX_127_NAMES)}
"""SMPL-X output point index by name (127)."""
MP = {name: i for i, name in enumerate(MEDIAPIPE_POSE_NAMES)}
"""MediaPipe pose landmark index by name (33)."""

POSE_IDS = _frozen(np.nonzero(MEDIAPIPE_POSE_TO_SMPLX127 >= 0)[0])
"""(27,) MediaPipe pose landmarks that have an SMPL-X point (all but the coarse hand points)."""
POSE_TO_POINTS = _frozen(MEDIAPIPE_POSE_TO_SMPLX127[POSE_IDS])
"""(27,) the SMPL-X point of each of ``POSE_IDS``."""

HAND_TO_POINTS = {"left": MEDIAPIPE_HAND_TO_SMPLX127_LEFT, "right": MEDIAPIPE_HAND_TO_SMPLX127_RIGHT}
"""(21,) per side: MediaPipe hand landmark k -> SMPL-X point (wrist, thumb1..3 + tip, ...)."""

HAND_PALM = _frozen([0, 5, 9, 13, 17])
"""Hand landmarks that are rigid with the wrist: wrist and the four finger MCPs."""
HAND_CHAINS = _frozen([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]])
"""Hand landmarks of each finger (thumb, index, middle, ring, pinky), proximal joint -> tip."""
FINGERS = ("thumb", "index", "middle", "ring", "pinky")

MEDIAPIPE_FACE_TO_IBUG68 = _frozen([
    # 0..16 jaw line, subject's right ear -> chin (8) -> left ear
    [127, 127], [234, 234], [93, 93], [132, 58], [58, 172], [136, 136], [150, 150], [176, 176],
    [152, 152], [400, 400], [379, 379], [365, 365], [397, 288], [361, 361], [323, 323],
    [454, 454], [356, 356],
    # 17..21 right brow (outer -> inner), 22..26 left brow (inner -> outer)
    [70, 70], [63, 63], [105, 105], [66, 66], [107, 107],
    [336, 336], [296, 296], [334, 334], [293, 293], [300, 300],
    # 27..30 nose bridge -> tip, 31..35 nostril base right -> left
    [168, 6], [197, 195], [5, 5], [1, 1], [98, 98], [97, 97], [2, 2], [326, 326], [327, 327],
    # 36..41 right eye (outer corner, upper, upper, inner corner, lower, lower)
    [33, 33], [160, 160], [158, 158], [133, 133], [153, 153], [144, 144],
    # 42..47 left eye (inner corner, upper, upper, outer corner, lower, lower)
    [362, 362], [385, 385], [387, 387], [263, 263], [373, 373], [380, 380],
    # 48..59 outer lip from the right corner over the top (51) to the left corner (54) and back
    [61, 61], [39, 39], [37, 37], [0, 0], [267, 267], [269, 269], [291, 291],
    [321, 321], [314, 314], [17, 17], [84, 84], [91, 91],
    # 60..67 inner lip: right corner, top (62 = mid), left corner, bottom (66 = mid)
    [78, 78], [82, 82], [13, 13], [312, 312], [308, 308], [317, 317], [14, 14], [87, 87],
])  # fmt: skip
"""(68, 2) face-mesh vertices whose mean is iBUG-68 point k."""

FACE_IBUG = _frozen(np.arange(17, 68))
"""(51,) the iBUG points SMPL-X has as static landmarks."""
FACE_TO_POINTS = _frozen(59 + FACE_IBUG)
"""(51,) the SMPL-X output point of each of ``FACE_IBUG``."""
FACE_RIGID = _frozen([k - 17 for k in (*range(27, 36), 36, 39, 42, 45)])
"""Positions in ``FACE_IBUG`` of points that hardly move with expression: nose, eye corners."""
FACE_EYE_OUTER = (36 - 17, 45 - 17)
FACE_INNER_LIPS = (62 - 17, 66 - 17)

HEAD_POSE_IDS = _frozen([MP[n] for n in (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear")])
"""Pose landmarks rigid with the head (the mouth corners move with the jaw)."""

BODY_CONFIDENCE_IDS = _frozen([MP[f"{s}_{n}"] for s in ("left", "right")
                               for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")])
FACE_CONFIDENCE_IDS = _frozen([MP[n] for n in ("nose", "left_eye", "right_eye", "mouth_left", "mouth_right")])


def face_ibug68(face_px: np.ndarray) -> np.ndarray:
    """(68, 3) iBUG-68 points from MediaPipe face-mesh points (468, 3)."""
    return 0.5 * (face_px[MEDIAPIPE_FACE_TO_IBUG68[:, 0]] + face_px[MEDIAPIPE_FACE_TO_IBUG68[:, 1]])
