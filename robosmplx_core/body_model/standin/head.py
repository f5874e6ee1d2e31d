"""The stand-in head: one vertical sweep (chin to crown) shaped by a ring-radius profile,
with facial relief (nose, brows, eye sockets, cheekbones, lips, chin, ears) and jaw weights.

Units: metres, SMPL-X frame (y up, +z front, person's left = +x). ``FACE`` holds the face
layout shared by the relief, the landmarks and the expression directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from robosmplx_core.body_model.standin.mesh import (
    Primitive,
    gaussian,
    make_stations,
    refine,
    smoothstep,
    sweep_surface,
)
from robosmplx_core.body_model.standin.parts import X, Y, Z, Part
from robosmplx_core.body_model.standin.skeleton import NUM_JOINTS, J, rest_joints


@dataclass(frozen=True)
class FaceLayout:
    """Heights (y) and offsets of facial features on the rest head, metres."""

    chin_y: float = 0.224
    mouth_y: float = 0.255
    mouth_half_width: float = 0.024
    upper_lip_y: float = 0.2615
    lower_lip_y: float = 0.248
    subnasal_y: float = 0.274
    nose_tip_y: float = 0.285
    eye_y: float = 0.333
    eye_x: float = 0.032
    brow_y: float = 0.352
    ear_y: float = 0.315
    ear_z: float = -0.005


FACE = FaceLayout()

_PROFILE = (
    (0.222, 0.048, 0.072, 0.045, 0.015), (0.232, 0.054, 0.080, 0.052, 0.012),
    (0.250, 0.060, 0.084, 0.060, 0.010), (0.270, 0.065, 0.086, 0.072, 0.007),
    (0.290, 0.069, 0.088, 0.084, 0.004), (0.310, 0.073, 0.090, 0.092, 0.002),
    (0.335, 0.076, 0.092, 0.097, 0.0), (0.360, 0.0772, 0.0902, 0.0976, -0.002),
    (0.385, 0.0708, 0.0834, 0.0898, -0.005), (0.405, 0.0604, 0.0713, 0.0767, -0.008),
    (0.420, 0.0479, 0.0565, 0.0608, -0.010), (0.430, 0.0348, 0.0410, 0.0442, -0.010),
    (0.436, 0.0224, 0.0264, 0.0284, -0.010), (0.439, 0.0137, 0.0162, 0.0174, -0.010),
)
"""Head ring profile: y, half-width, front depth, back depth, centre z (metres). Above
y = 0.36 the radii follow an ellipsoidal crown (vertical semi-axis 0.095 m) to the top."""
_FACE_TOP_Y = 0.385  # rings are denser below this height
_CROWN_CAP_M = 0.001  # 0.439 + 0.001 = HEAD_TOP_Y_M


def _nose(p: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Forward (+z) nose relief ``(V,)`` metres: ridge from the bridge to the tip, alae."""
    ys = [0.262, 0.272, 0.283, 0.290, 0.305, 0.322, 0.338, 0.350]
    hs = [0.0, 0.011, 0.021, 0.020, 0.013, 0.008, 0.004, 0.0]
    y = np.clip(p[:, 1], ys[0], ys[-1])
    height = np.clip(PchipInterpolator(ys, hs)(y), 0.0, None)
    sigma_x = np.interp(p[:, 1], [0.27, 0.285, 0.30, 0.34], [0.013, 0.011, 0.008, 0.007])
    ridge = height * gaussian(p[:, 0], sigma_x)
    alae = 0.005 * gaussian(np.abs(p[:, 0]) - 0.013, 0.005) * gaussian(p[:, 1] - 0.277, 0.005)
    return (ridge + alae) * front**2


def _eyes_brows_cheeks(p: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Forward relief ``(V,)``: eye-socket dents, brow ridge, cheekbones (metres)."""
    ax = np.abs(p[:, 0])
    socket = -0.009 * gaussian(ax - FACE.eye_x, 0.013) * gaussian(p[:, 1] - FACE.eye_y, 0.010)
    brow = 0.005 * gaussian(p[:, 1] - FACE.brow_y, 0.006) * gaussian(ax - 0.025, 0.03)
    cheek = 0.004 * gaussian(ax - 0.05, 0.012) * gaussian(p[:, 1] - 0.305, 0.012)
    return (socket + brow + cheek) * front


def _mouth_chin(p: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Forward relief ``(V,)``: upper and lower lip, chin (metres)."""
    lips_x = np.exp(-((np.abs(p[:, 0]) / 0.022) ** 4))
    lips = 0.005 * (gaussian(p[:, 1] - FACE.upper_lip_y, 0.0035)
                    + gaussian(p[:, 1] - FACE.lower_lip_y, 0.004)) * lips_x
    chin = 0.006 * gaussian(p[:, 0], 0.014) * gaussian(p[:, 1] - 0.229, 0.008)
    return (lips + chin) * front**2


def _ears(p: np.ndarray, radial: np.ndarray) -> np.ndarray:
    """Outward (radial) ear relief ``(V,)``, metres, on both sides of the head."""
    shape = gaussian(p[:, 1] - FACE.ear_y, 0.02) * gaussian(p[:, 2] - FACE.ear_z, 0.011)
    return 0.014 * shape * np.abs(radial[:, 0]) ** 4


def face_relief(points: np.ndarray, ring_centres: np.ndarray) -> np.ndarray:
    """Displacement ``(V, 3)`` (metres) that turns the smooth head profile into a face."""
    radial = points - ring_centres
    radial[:, 1] = 0.0
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-12)
    front = np.clip(radial[:, 2], 0.0, 1.0)
    forward = _nose(points, front) + _eyes_brows_cheeks(points, front) + _mouth_chin(points, front)
    disp = radial * _ears(points, radial)[:, None]
    disp[:, 2] += forward
    return disp


def jaw_weight(points: np.ndarray) -> np.ndarray:
    """Weight ``(V,)`` of the jaw joint on head vertices: the lower face and chin, below a
    boundary that runs along the mouth line in front and rises to the jaw joint toward the
    ears; 0.5 exactly on the mouth line. The back of the head stays on the head joint."""
    jaw_y = rest_joints()[J["jaw"], 1]
    rise = np.clip((0.06 - points[:, 2]) / 0.06, 0.0, 1.0)
    boundary = FACE.mouth_y + (jaw_y - FACE.mouth_y) * rise
    below = smoothstep((boundary - points[:, 1]) / 0.006)
    forward = smoothstep((points[:, 2] + 0.015) / 0.015)
    return below * forward


def head() -> Primitive:
    """The head sweep with facial relief, weighted to the head and jaw joints:
    ``Part.HEAD``. Rings are packed toward the face (front) and below the forehead."""
    rows = [((0.0, y, cz), (w, w, f, b), 2.0) for y, w, f, b, cz in _PROFILE]
    ys = np.array([r[0] for r in _PROFILE])
    spacing = np.where(ys[1:] <= _FACE_TOP_Y + 1e-9, 0.004, 0.0065)
    st = refine(make_stations(rows), spacing)
    base, faces, ring_c, rings, centres = sweep_surface(
        st, n=52, ref_u=X, ref_v=Z, cap_m=(0.008, _CROWN_CAP_M), cap_rings=4,
        front_density=0.6, normal=Y)
    verts = base + face_relief(base, ring_c)
    w_jaw = jaw_weight(verts)
    weights = np.zeros((len(verts), NUM_JOINTS))
    weights[:, J["head"]] = 1.0 - w_jaw
    weights[:, J["jaw"]] = w_jaw
    return Primitive(verts, faces, ring_c, weights, int(Part.HEAD), rings, centres,
                     len(verts) - 1)
