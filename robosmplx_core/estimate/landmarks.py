"""Whole-body landmarks of one person (MediaPipe Holistic layout), in full-image pixels.

MediaPipe's pose world landmarks are metric, centred at the hip midpoint and aligned with the
camera axes (x right, y down, z forward, away from the camera). Hand and face landmarks are
pixel positions with a relative depth in pixel units (z grows away from the camera; the
origin of z is the wrist for hands and the face centre for the face), i.e. 3D up to scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from robosmplx_core.checks import check_finite, check_shape

NUM_POSE = 33
NUM_HAND = 21
NUM_FACE = 468


@dataclass(frozen=True)
class PersonLandmarks:
    """Landmarks of one person in one frame.

    Fields:
        pose_px: (33, 2) float32 pixels (MediaPipe pose order).
        pose_visibility: (33,) float32 in [0, 1].
        pose_world_m: (33, 3) float32 metres, hip-midpoint origin, camera-aligned axes.
        left_hand_px / right_hand_px: (21, 3) float32 (u, v, relative depth) in pixels, the
            subject's left/right hand (MediaPipe hand order), or None when not found.
        face_px: (468, 3) float32 (u, v, relative depth) pixels (face-mesh order), or None.
    """

    pose_px: np.ndarray
    pose_visibility: np.ndarray
    pose_world_m: np.ndarray
    left_hand_px: Optional[np.ndarray] = None
    right_hand_px: Optional[np.ndarray] = None
    face_px: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        specs = {"pose_px": f"{NUM_POSE} 2", "pose_visibility": f"{NUM_POSE}", "pose_world_m": f"{NUM_POSE} 3",
                 "left_hand_px": f"{NUM_HAND} 3", "right_hand_px": f"{NUM_HAND} 3", "face_px": f"{NUM_FACE} 3"}
        for name, spec in specs.items():
            value = getattr(self, name)
            if value is None:
                if name.startswith("pose"):
                    raise ValueError(f"PersonLandmarks.{name}: required, got None")
                continue
            arr = np.asarray(value, np.float32)
            check_shape(arr, spec, name=f"PersonLandmarks.{name}")
            check_finite(arr, name=f"PersonLandmarks.{name}")
            object.__setattr__(self, name, arr)
