"""Procedural stand-in for the licensed SMPL-X body model.

``write_standin_model(folder)`` writes ``folder/smplx/SMPLX_NEUTRAL.npz`` in the official
SMPL-X npz format (10475 vertices, 55 joints in SMPL-X order and tree, 10 shape and 10
expression directions, face landmarks, smplx's keypoint vertices at anatomical places), so
unmodified ``smplx`` code loads it. It is a simple human built from swept tubes: T-pose,
y up, facing +z, the person's left at +x, pelvis joint near y = -0.35 m, soles at
y = -1.28 m, ``STANDIN_HEIGHT_M`` tall. Deterministic: the same bytes on every call.
"""

from robosmplx_core.body_model.standin.skeleton import (
    JOINT_NAMES,
    PARENTS,
    SOLE_Y_M,
    STANDIN_HEIGHT_M,
    rest_joints,
)
from robosmplx_core.body_model.standin.writer import build_arrays, write_standin_model

__all__ = [
    "JOINT_NAMES",
    "PARENTS",
    "SOLE_Y_M",
    "STANDIN_HEIGHT_M",
    "build_arrays",
    "rest_joints",
    "write_standin_model",
]
