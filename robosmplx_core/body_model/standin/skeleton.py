"""Rest-pose skeleton of the procedural stand-in SMPL-X body.

Conventions (as in SMPL-X): metres; y up, the body faces +z, the person's LEFT side is +x.
The rest pose is the T-pose: arms horizontal along +-x, palms facing down (-y), fingers
extended along +-x and spread in z (index toward +z, pinky toward -z), thumb pointing
forward/outward, feet pointing +z. Like real SMPL-X the origin is near the pelvis, not at the
feet: pelvis joint at y = -0.35, soles at y = -1.28, top of the head at y = +0.44.

Joint order and kinematic tree are exactly SMPL-X's 55 joints (``JOINT_NAMES``, ``PARENTS``).
Left-side positions are written once; right-side ones mirror them (x -> -x).
"""

from __future__ import annotations

import numpy as np

NUM_JOINTS = 55

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2",
    "left_middle3", "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2",
    "left_ring3", "left_thumb1", "left_thumb2", "left_thumb3",
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2",
    "right_middle3", "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1",
    "right_ring2", "right_ring3", "right_thumb1", "right_thumb2", "right_thumb3",
)  # fmt: skip

PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)  # fmt: skip

J = {name: i for i, name in enumerate(JOINT_NAMES)}

# Vertical landmarks of the rest pose (y, metres).
SOLE_Y_M = -1.28
HEAD_TOP_Y_M = 0.44
STANDIN_HEIGHT_M = HEAD_TOP_Y_M - SOLE_Y_M  # 1.72

FINGERS: tuple[str, ...] = ("index", "middle", "pinky", "ring", "thumb")
"""SMPL-X finger order inside each hand (joints <side>_<finger>1..3)."""

# Left-side (and midline) rest joint positions, metres.
_TRUNK_AND_LEFT: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, -0.35, 0.0),
    "left_hip": (0.09, -0.44, 0.0),
    "spine1": (0.0, -0.24, -0.01),
    "left_knee": (0.095, -0.83, 0.01),
    "spine2": (0.0, -0.11, -0.005),
    "left_ankle": (0.09, -1.20, -0.03),
    "spine3": (0.0, -0.05, 0.0),
    "left_foot": (0.10, -1.262, 0.10),
    "neck": (0.0, 0.14, -0.015),
    "left_collar": (0.07, 0.09, -0.015),
    "head": (0.0, 0.23, -0.005),
    "left_shoulder": (0.18, 0.085, -0.02),
    "left_elbow": (0.44, 0.085, -0.025),
    "left_wrist": (0.70, 0.085, -0.025),
    "jaw": (0.0, 0.285, 0.01),
    "left_eye_smplhf": (0.032, 0.333, 0.072),
}

EYE_RADIUS_M = 0.0125

# Left-hand finger geometry relative to the left wrist (metres): base joint offset,
# direction of each of the three segments and segment lengths (the last one ends at the tip).
_FINGER_SPECS: dict[str, tuple[tuple[float, float, float], tuple[tuple[float, float, float], ...],
                               tuple[float, float, float], float]] = {
    # name: (base offset from wrist, segment directions, segment lengths, base radius)
    "index": ((0.088, 0.0, 0.024), ((1.0, 0.0, 0.10),) * 3, (0.040, 0.024, 0.022), 0.0090),
    "middle": ((0.092, 0.0, 0.005), ((1.0, 0.0, 0.0),) * 3, (0.045, 0.028, 0.024), 0.0093),
    "ring": ((0.087, -0.001, -0.013), ((1.0, 0.0, -0.06),) * 3, (0.042, 0.026, 0.022), 0.0088),
    "pinky": ((0.078, -0.003, -0.029), ((1.0, 0.0, -0.15),) * 3, (0.033, 0.020, 0.020), 0.0078),
    "thumb": (
        (0.022, -0.010, 0.022),
        ((0.60, -0.15, 0.78), (0.75, -0.12, 0.65), (0.85, -0.08, 0.52)),
        (0.038, 0.032, 0.028),
        0.0110,
    ),
}


def mirror_x(points: np.ndarray) -> np.ndarray:
    """Mirror points ``(..., 3)`` across the sagittal plane (x -> -x)."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] *= -1.0
    return out


def finger_chain(side: str, finger: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Joint positions of one finger.

    Args:
        side: ``"left"`` or ``"right"``.
        finger: one of ``FINGERS``.

    Returns:
        points: ``(4, 3)`` metres: joints <finger>1, 2, 3 and the fingertip.
        directions: ``(3, 3)`` unit direction of each segment.
        base_radius: tube radius at the base joint, metres.
    """
    offset, dirs, lengths, radius = _FINGER_SPECS[finger]
    wrist = np.asarray(_TRUNK_AND_LEFT["left_wrist"])
    units = np.asarray(dirs, dtype=np.float64)
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    points = [wrist + np.asarray(offset)]
    for unit, length in zip(units, lengths):
        points.append(points[-1] + unit * length)
    pts = np.stack(points)
    if side == "right":
        pts, units = mirror_x(pts), mirror_x(units)
    return pts, units, radius


def rest_joints() -> np.ndarray:
    """Rest-pose (T-pose) joint positions in SMPL-X order.

    Returns:
        ``(55, 3)`` float64, metres.
    """
    joints = np.zeros((NUM_JOINTS, 3))
    for name, pos in _TRUNK_AND_LEFT.items():
        joints[J[name]] = pos
        if name.startswith("left_"):
            joints[J["right_" + name[5:]]] = mirror_x(np.asarray(pos))
    for side in ("left", "right"):
        for finger in FINGERS:
            pts, _, _ = finger_chain(side, finger)
            for k in range(3):
                joints[J[f"{side}_{finger}{k + 1}"]] = pts[k]
    return joints


def children(joint: int) -> list[int]:
    """Indices of the direct children of ``joint`` in the SMPL-X tree."""
    return [j for j, p in enumerate(PARENTS) if p == joint]
