"""Shape and expression directions of the stand-in (metres of displacement per unit
coefficient; one unit is meant as about one standard deviation).

Shape (betas 0..9): 0 stature, 1 girth, 2 shoulder width, 3 hip width, 4 leg length,
5 arm length, 6 head size, 7 chest depth, 8 belly, 9 neck length.
Expression (0..9): 0 mouth open, 1 smile, 2 brow raise, 3 frown, 4 cheek puff, 5 lip pucker,
6 eye squint, 7 mouth corners down, 8 nose wrinkle, 9 jaw sideways. Expressions move head
vertices only; every other vertex has exactly zero displacement.

Eyeballs move rigidly with the surrounding head surface (they keep their size).
All fields are ``(V, 3)`` arrays in metres; the bases are ``(V, 3, 10)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from robosmplx_core.body_model.standin.assembly import Assembled
from robosmplx_core.body_model.standin.head import FACE, jaw_weight
from robosmplx_core.body_model.standin.mesh import gaussian, smoothstep
from robosmplx_core.body_model.standin.parts import Part
from robosmplx_core.body_model.standin.skeleton import SOLE_Y_M, J, rest_joints

Field = Callable[[Assembled], np.ndarray]

_ARMS = (Part.LEFT_ARM, Part.RIGHT_ARM, Part.LEFT_FINGERS, Part.RIGHT_FINGERS)
_LEGS = (Part.LEFT_LEG, Part.RIGHT_LEG, Part.LEFT_FOOT, Part.RIGHT_FOOT)
_HEAD = (Part.HEAD, Part.LEFT_EYE, Part.RIGHT_EYE)
_EYES = (Part.LEFT_EYE, Part.RIGHT_EYE)


def _in(asm: Assembled, parts: tuple[Part, ...]) -> np.ndarray:
    return np.isin(asm.part, parts)


def _radial(asm: Assembled) -> np.ndarray:
    """Unit direction ``(V, 3)`` from each vertex's ring centre to the vertex."""
    d = asm.vertices - asm.ring_centres
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)


def stature(asm: Assembled) -> np.ndarray:
    """Uniform scaling by 3.5 % about the soles' centre (about +6 cm stature)."""
    return 0.035 * (asm.vertices - np.array([0.0, SOLE_Y_M, 0.0]))


def girth(asm: Assembled) -> np.ndarray:
    """Radial growth from each ring centre: 9 % torso, 8 % limbs, little on head and hands,
    none on the feet (the soles stay on the ground)."""
    gain = np.zeros(len(asm.vertices))
    for parts, value in (((Part.TORSO,), 0.09), ((Part.LEFT_ARM, Part.RIGHT_ARM), 0.08),
                         ((Part.LEFT_LEG, Part.RIGHT_LEG), 0.08),
                         ((Part.LEFT_FINGERS, Part.RIGHT_FINGERS), 0.03), ((Part.HEAD,), 0.015)):
        gain[_in(asm, parts)] = value
    return gain[:, None] * (asm.vertices - asm.ring_centres)


def shoulder_width(asm: Assembled) -> np.ndarray:
    """Arms 2 cm outward; the upper torso widens to meet them."""
    x, y = asm.vertices[:, 0], asm.vertices[:, 1]
    disp = np.zeros_like(asm.vertices)
    disp[:, 0] = np.where(_in(asm, _ARMS), 0.02 * np.sign(x), 0.0)
    band = smoothstep((y + 0.05) / 0.08) * (1.0 - smoothstep((y - 0.14) / 0.02))
    disp[:, 0] += np.where(asm.part == Part.TORSO, 0.12 * x * band, 0.0)
    return disp


def hip_width(asm: Assembled) -> np.ndarray:
    """Legs 1.5 cm outward; the torso below the waist widens to meet them."""
    x, y = asm.vertices[:, 0], asm.vertices[:, 1]
    disp = np.zeros_like(asm.vertices)
    disp[:, 0] = np.where(_in(asm, _LEGS), 0.015 * np.sign(x), 0.0)
    band = 1.0 - smoothstep((y + 0.24) / 0.08)
    disp[:, 0] += np.where(asm.part == Part.TORSO, 0.10 * x * band, 0.0)
    return disp


def leg_length(asm: Assembled) -> np.ndarray:
    """Shins and thighs stretch so everything above the hips rises 4 cm; feet stay."""
    joints = rest_joints()
    ankle_y, hip_y = joints[J["left_ankle"], 1], joints[J["left_hip"], 1]
    disp = np.zeros_like(asm.vertices)
    disp[:, 1] = 0.04 * np.clip((asm.vertices[:, 1] - ankle_y) / (hip_y - ankle_y), 0.0, 1.0)
    return disp


def arm_length(asm: Assembled) -> np.ndarray:
    """Upper arm and forearm stretch so the hands move 3 cm outward."""
    joints = rest_joints()
    x0, x1 = joints[J["left_shoulder"], 0], joints[J["left_wrist"], 0]
    x = asm.vertices[:, 0]
    disp = np.zeros_like(asm.vertices)
    ramp = np.clip((np.abs(x) - x0) / (x1 - x0), 0.0, 1.0)
    disp[:, 0] = np.where(_in(asm, _ARMS), 0.03 * np.sign(x) * ramp, 0.0)
    return disp


def head_size(asm: Assembled) -> np.ndarray:
    """Head 6 % larger about the top of the neck."""
    disp = 0.06 * (asm.vertices - np.array([0.0, 0.215, 0.0]))
    return np.where(_in(asm, _HEAD)[:, None], disp, 0.0)


def chest_depth(asm: Assembled) -> np.ndarray:
    """The front of the chest moves forward by up to 15 % of its depth."""
    y = asm.vertices[:, 1]
    front = np.clip(asm.vertices[:, 2] - asm.ring_centres[:, 2], 0.0, None)
    disp = np.zeros_like(asm.vertices)
    disp[:, 2] = np.where(asm.part == Part.TORSO, 0.15 * front * gaussian(y + 0.02, 0.07), 0.0)
    return disp


def belly(asm: Assembled) -> np.ndarray:
    """A forward bulge of up to 3 cm around the navel."""
    y = asm.vertices[:, 1]
    front = np.clip(_radial(asm)[:, 2], 0.0, 1.0) ** 1.5
    disp = np.zeros_like(asm.vertices)
    disp[:, 2] = np.where(asm.part == Part.TORSO, 0.03 * front * gaussian(y + 0.2, 0.07), 0.0)
    return disp


def neck_length(asm: Assembled) -> np.ndarray:
    """The neck stretches so the head rises 1.5 cm."""
    y = asm.vertices[:, 1]
    ramp = np.clip((y - 0.14) / (0.21 - 0.14), 0.0, 1.0)
    disp = np.zeros_like(asm.vertices)
    disp[:, 1] = np.where(_in(asm, (Part.TORSO,) + _HEAD), 0.015 * ramp, 0.0)
    return disp


SHAPE_FIELDS: tuple[Field, ...] = (stature, girth, shoulder_width, hip_width, leg_length,
                                   arm_length, head_size, chest_depth, belly, neck_length)


def _rigid_eyes(asm: Assembled, disp: np.ndarray) -> np.ndarray:
    """Replace eyeball displacements by the mean displacement of the head vertices within
    2 cm of the eye centre, so eyeballs translate with the face, ``(V, 3)``."""
    out = disp.copy()
    head = np.flatnonzero(asm.part == Part.HEAD)
    for eye in _EYES:
        idx = np.flatnonzero(asm.part == eye)
        centre = asm.vertices[idx].mean(axis=0)
        near = head[np.linalg.norm(asm.vertices[head] - centre, axis=1) < 0.02]
        out[idx] = disp[near].mean(axis=0)
    return out


def shape_dirs(asm: Assembled) -> np.ndarray:
    """Shape basis ``(V, 3, 10)`` float64, metres per unit beta."""
    return np.stack([_rigid_eyes(asm, f(asm)) for f in SHAPE_FIELDS], axis=2)


def _face_frame(asm: Assembled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(V, 3)``, front weight ``(V,)`` (how much a vertex faces +z, 0..1) and
    outward radial direction ``(V, 3)``, for the expression fields."""
    radial = _radial(asm)
    return asm.vertices, np.clip(radial[:, 2], 0.0, 1.0), radial


def _expression(asm: Assembled, weight: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``weight (V,)`` times ``vector`` (``(3,)`` or ``(V, 3)``) on head vertices only; exact
    zeros elsewhere and where the weight is below 1e-4."""
    mask = (asm.part == Part.HEAD) & (weight > 1e-4)
    disp = np.zeros_like(asm.vertices)
    disp[mask] = (weight[:, None] * np.broadcast_to(vector, asm.vertices.shape))[mask]
    return disp


def mouth_open(asm: Assembled) -> np.ndarray:
    """Lower lip and chin down 8 mm (and slightly back)."""
    p, front, _ = _face_frame(asm)
    w = jaw_weight(p) * front * gaussian(p[:, 0], 0.04)
    return _expression(asm, w, np.array([0.0, -0.008, -0.002]))


def _corners(p: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Weight ``(V,)`` around both mouth corners."""
    return (gaussian(np.abs(p[:, 0]) - FACE.mouth_half_width, 0.01)
            * gaussian(p[:, 1] - FACE.mouth_y, 0.01) * front)


def smile(asm: Assembled) -> np.ndarray:
    """Mouth corners up 5 mm and out 4 mm."""
    p, front, _ = _face_frame(asm)
    vec = np.stack([0.004 * np.sign(p[:, 0]), np.full(len(p), 0.005), np.full(len(p), -0.002)], 1)
    return _expression(asm, _corners(p, front), vec)


def brow_raise(asm: Assembled) -> np.ndarray:
    """Both brows up 5 mm."""
    p, front, _ = _face_frame(asm)
    w = gaussian(p[:, 1] - FACE.brow_y, 0.008) * gaussian(np.abs(p[:, 0]) - 0.03, 0.025) * front
    return _expression(asm, w, np.array([0.0, 0.005, 0.0]))


def frown(asm: Assembled) -> np.ndarray:
    """Inner brows down 4 mm and together 3 mm."""
    p, front, _ = _face_frame(asm)
    w = gaussian(p[:, 1] - FACE.brow_y, 0.007) * gaussian(np.abs(p[:, 0]) - 0.015, 0.012) * front
    vec = np.stack([-0.003 * np.sign(p[:, 0]), np.full(len(p), -0.004), np.full(len(p), 0.001)], 1)
    return _expression(asm, w, vec)


def cheek_puff(asm: Assembled) -> np.ndarray:
    """Cheeks outward 8 mm."""
    p, front, radial = _face_frame(asm)
    w = gaussian(np.abs(p[:, 0]) - 0.045, 0.015) * gaussian(p[:, 1] - 0.27, 0.015) * front
    return _expression(asm, w, 0.008 * radial)


def lip_pucker(asm: Assembled) -> np.ndarray:
    """Lips forward 8 mm, corners drawn toward the middle."""
    p, front, _ = _face_frame(asm)
    w = np.exp(-((np.abs(p[:, 0]) / 0.03) ** 4)) * gaussian(p[:, 1] - FACE.mouth_y, 0.01) * front**2
    vec = np.stack([-0.25 * p[:, 0], np.zeros(len(p)), np.full(len(p), 0.008)], 1)
    return _expression(asm, w, vec)


def squint(asm: Assembled) -> np.ndarray:
    """Upper lids down and lower lids up by up to 4 mm."""
    p, front, _ = _face_frame(asm)
    dy = p[:, 1] - FACE.eye_y
    w = gaussian(np.abs(p[:, 0]) - FACE.eye_x, 0.012) * gaussian(dy, 0.009) * front
    vec = np.stack([np.zeros(len(p)), -0.004 * np.tanh(dy / 0.004), np.zeros(len(p))], 1)
    return _expression(asm, w, vec)


def mouth_corners_down(asm: Assembled) -> np.ndarray:
    """Mouth corners down 4 mm."""
    p, front, _ = _face_frame(asm)
    vec = np.stack([0.001 * np.sign(p[:, 0]), np.full(len(p), -0.004), np.zeros(len(p))], 1)
    return _expression(asm, _corners(p, front), vec)


def nose_wrinkle(asm: Assembled) -> np.ndarray:
    """Sides of the nose up 3 mm."""
    p, front, _ = _face_frame(asm)
    w = gaussian(np.abs(p[:, 0]) - 0.012, 0.01) * gaussian(p[:, 1] - 0.285, 0.012) * front
    return _expression(asm, w, np.array([0.0, 0.003, 0.001]))


def jaw_sideways(asm: Assembled) -> np.ndarray:
    """Chin and lower lip 5 mm toward the person's left (+x)."""
    p, front, _ = _face_frame(asm)
    return _expression(asm, jaw_weight(p) * front, np.array([0.005, 0.0, 0.0]))


EXPRESSION_FIELDS: tuple[Field, ...] = (mouth_open, smile, brow_raise, frown, cheek_puff,
                                        lip_pucker, squint, mouth_corners_down, nose_wrinkle,
                                        jaw_sideways)


def expression_dirs(asm: Assembled) -> np.ndarray:
    """Expression basis ``(V, 3, 10)`` float64, metres per unit coefficient; non-zero only on
    head vertices."""
    return np.stack([f(asm) for f in EXPRESSION_FIELDS], axis=2)
