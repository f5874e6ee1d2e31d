"""Hand orientation and finger rotations from MediaPipe hand landmarks (numpy).

Hand landmarks are (u, v, relative depth) in pixels: 3D up to the perspective division. Given
the wrist's depth Z_w (from the body solve) they are lifted to camera-frame points along their
pixel rays at depth ``Z_w (1 + z_rel / fx)``. Then:

- hand (wrist) orientation: rotation fitted (Kabsch) between the model's rest palm points
  (wrist + four finger MCP joints, rigid with the wrist in SMPL-X) and the lifted ones;
- fingers, relative to the wrist: each finger is a hinge chain (``chains.py``): the MCP swing
  (flexion + abduction) to the first segment, with its twist fixed by the bent PIP; PIP a hinge;
  DIP the swing of the last segment to the fingertip (its twist is unobservable: 0). Hinges
  curl towards the palm (-y in the SMPL-X rest pose, whose hands are flat, palms down). The
  thumb uses the same model (CMC = thumb1, MCP = thumb2, IP = thumb3), with a wider twist range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.estimate.solver import so3
from robosmplx_core.estimate.solver.chains import HingeChains, solve_hinge_chains, swing_to
from robosmplx_core.estimate.solver.keypoints import HAND_CHAINS, HAND_PALM, HAND_TO_POINTS
from robosmplx_core.estimate.solver.linalg import pixel_rays

PALM_DIRECTION = np.array([0.0, -1.0, 0.0])
FINGER_MAX_TWIST_RAD = np.array([np.radians(60.0)] + [np.radians(30.0)] * 4)  # thumb, index .. pinky
SIDES = ("left", "right")
FIRST_FINGER_JOINT = {"left": 25, "right": 40}


def lift_hand(hand_px: np.ndarray, K: np.ndarray, wrist_depth_m: float) -> np.ndarray:
    """Camera-frame points (21, 3) from hand landmarks (21, 3) (u, v, z_rel px), ``K`` (3, 3)."""
    depth = wrist_depth_m * (1.0 + hand_px[:, 2] / K[0, 0])
    return pixel_rays(hand_px[:, :2], K) * depth[:, None]


@dataclass(frozen=True)
class HandIK:
    """Rest-pose constants of both hands (built once per model; index 0 = left, 1 = right).

    Fields:
        palm: (2, 5, 3) rest wrist and finger MCP joints.
        chains: the 10 MCP -> PIP -> DIP hinge chains, left thumb..pinky then right.
        last_bone: (10, 3) rest DIP -> fingertip vectors.
        slots: (2, 5, 3) ``hand_pose`` index of each finger's three joints.
    """

    palm: np.ndarray
    chains: HingeChains
    last_bone: np.ndarray
    slots: np.ndarray

    @classmethod
    def from_rest(cls, rest_points: np.ndarray) -> "HandIK":
        """From the model's rest output points (127, 3)."""
        idx = np.stack([HAND_TO_POINTS[s] for s in SIDES])  # (2, 21)
        chain_points = idx[:, HAND_CHAINS]  # (2, 5, 4): finger1, finger2, finger3, tip
        rest = rest_points[chain_points].reshape(-1, 4, 3)
        bones = rest[:, 1:] - rest[:, :-1]  # (10, 3, 3)
        first = np.array([FIRST_FINGER_JOINT[s] for s in SIDES])[:, None, None]
        return cls(palm=rest_points[idx[:, HAND_PALM]],
                   chains=HingeChains.build(bones[:, 0], bones[:, 1], PALM_DIRECTION, np.tile(FINGER_MAX_TWIST_RAD, 2)),
                   last_bone=bones[:, 2], slots=chain_points[:, :, :3] - first)


def solve_hands(ik: HandIK, points: np.ndarray, sides: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Wrist global rotations (H, 3, 3) and finger global rotations (H, 15, 3, 3) (SMPL-X hand
    order: index1..3, middle, pinky, ring, thumb) of H hands in one vectorised pass.

    Args:
        points: (H, 21, 3) lifted hand landmarks (MediaPipe order), camera frame.
        sides: the H sides, "left" or "right" (the subject's).
    """
    hand = np.array([SIDES.index(s) for s in sides])
    wrist = so3.kabsch(ik.palm[hand], points[:, HAND_PALM])  # (H, 3, 3)
    rows = (hand[:, None] * 5 + np.arange(5)).ravel()
    obs = points[:, HAND_CHAINS].reshape(-1, 4, 3)
    dirs = obs[:, 1:] - obs[:, :-1]
    chains = ik.chains if len(rows) == len(ik.last_bone) else ik.chains.select(rows)
    first, second = solve_hinge_chains(chains, np.repeat(wrist, 5, axis=0), dirs[:, 0], dirs[:, 1])
    third = swing_to(second, ik.last_bone[rows], dirs[:, 2])
    slots = ik.slots[hand].reshape(-1, 3)
    which = np.repeat(np.arange(len(sides)), 5)
    out = np.empty((len(sides), 15, 3, 3))
    out[which, slots[:, 0]], out[which, slots[:, 1]], out[which, slots[:, 2]] = first, second, third
    return wrist, out
