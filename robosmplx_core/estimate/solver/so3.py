"""Small-rotation toolkit on numpy arrays for the landmark solver's inner loop (no torch).

Conventions (those of ``robosmplx_core.geometry``): radians; rotation matrices act on column
vectors (``x' = R @ x``); a rotation vector is unit axis times angle, angle in ``[0, pi]``.
Every function takes any leading batch dimensions ``...``. The torch versions in
``robosmplx_core.geometry.rotations`` are the reference (tests compare against scipy); these
exist because each numpy or torch call costs microseconds on tiny arrays and the solver makes
hundreds, so every function here is written with as few array calls as possible (skew
matrices as one small matrix product with the Levi-Civita symbol, closed forms without
branches; ``einsum`` only on tiny arrays, where it is as fast as the alternatives).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12
EYE3 = np.eye(3)
EYE3.flags.writeable = False  # shared identity (np.eye costs microseconds per call)
LEVI_CIVITA = np.zeros((3, 3, 3))
LEVI_CIVITA[0, 1, 2] = LEVI_CIVITA[1, 2, 0] = LEVI_CIVITA[2, 0, 1] = 1.0
LEVI_CIVITA[0, 2, 1] = LEVI_CIVITA[2, 1, 0] = LEVI_CIVITA[1, 0, 2] = -1.0
_SKEW_BASIS = np.einsum("ijk->kij", -LEVI_CIVITA).reshape(3, 9)  # v @ basis = skew(v) flattened
_HALF_NEG_LEVI = -0.5 * LEVI_CIVITA
NEAR_HALF_TURN_COS = np.cos(3.0)  # beyond 3 rad the axis is taken from the symmetric part


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a x b`` (..., 3), broadcasting like ``np.cross`` (``skew(a) @ b``)."""
    return (skew(a) @ b[..., None])[..., 0]


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products (...) of (..., 3) arrays."""
    return np.einsum("...i,...i->...", a, b)


def normalize(v: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Unit vectors along ``v`` (..., 3); zero-length vectors become ``fallback`` (or stay 0)."""
    n = np.sqrt(dot(v, v))[..., None]
    out = v / np.maximum(n, EPS)
    if fallback is not None:
        out = np.where(n > 1e-9, out, fallback)
    return out


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices (..., 3, 3) of ``v`` (..., 3): ``skew(a) @ b == a x b``."""
    return (v.reshape(-1, 3) @ _SKEW_BASIS).reshape(*v.shape, 3)


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: rotation vectors (..., 3) -> matrices (..., 3, 3); finite and exact at 0.

    ``R = cos(t) I + (sin t / t) [v]x + ((1 - cos t) / t^2) v v^T``; for tiny t the last
    coefficient loses relative precision but multiplies a term of size t^2, so R stays exact
    to rounding.
    """
    theta2 = np.maximum(dot(rotvec, rotvec), EPS * EPS)[..., None, None]
    theta = np.sqrt(theta2)
    cos = np.cos(theta)
    outer = rotvec[..., :, None] * rotvec[..., None, :]
    return cos * EYE3 + (np.sin(theta) / theta) * skew(rotvec) + ((1.0 - cos) / theta2) * outer


def matrix_to_rotvec(rotmat: np.ndarray) -> np.ndarray:
    """Matrices (..., 3, 3) -> rotation vectors (..., 3), angle in [0, pi].

    The skew part gives ``sin(t) k`` and the trace ``cos t``; near a half turn (t > 3 rad),
    where sin(t) vanishes, the axis comes from the symmetric part instead.
    """
    cos = 0.5 * (np.einsum("...ii->...", rotmat) - 1.0)
    sin_axis = np.einsum("ijk,...jk->...i", _HALF_NEG_LEVI, rotmat)  # sin(t) k
    sin = np.sqrt(dot(sin_axis, sin_axis))
    angle = np.arctan2(sin, cos)
    out = sin_axis * (angle / np.maximum(sin, EPS))[..., None]
    near_pi = cos < NEAR_HALF_TURN_COS
    if np.any(near_pi):
        out = np.where(near_pi[..., None], _half_turn_rotvec(rotmat, cos, sin_axis, angle), out)
    return out


def _half_turn_rotvec(rotmat, cos, sin_axis, angle) -> np.ndarray:
    """Rotation vectors for angles near pi: ``k k^T = (sym(R) - cos t I) / (1 - cos t)``."""
    kk = (0.5 * (rotmat + np.swapaxes(rotmat, -1, -2)) - cos[..., None, None] * EYE3) \
        / np.maximum(1.0 - cos, EPS)[..., None, None]
    diag = np.diagonal(kk, axis1=-2, axis2=-1)
    col = np.take_along_axis(kk, np.argmax(diag, -1)[..., None, None], -1)[..., 0]
    axis = col / np.sqrt(np.maximum(np.max(diag, -1), EPS))[..., None]
    axis = axis * np.where(dot(axis, sin_axis) < 0, -1.0, 1.0)[..., None]
    return axis * angle[..., None]


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (..., 3, 3) taking directions ``a`` to ``b`` (..., 3, need not be unit).

    ``R = c I + [v]x + v v^T / (1 + c)`` with ``v = a x b``, ``c = a . b`` (unit a, b);
    opposite directions get a half turn about an axis perpendicular to ``a``.
    """
    a = normalize(a)
    b = normalize(b)
    v = cross(a, b)
    c = dot(a, b)[..., None, None]
    near = c < -1.0 + 1e-9
    rot = c * EYE3 + skew(v) + (v[..., :, None] * v[..., None, :]) / np.maximum(1.0 + c, 1e-9)
    if not np.any(near):
        return rot
    perp = normalize(cross(a, EYE3[np.argmin(np.abs(a), axis=-1)]))
    half_turn = 2.0 * perp[..., :, None] * perp[..., None, :] - EYE3
    return np.where(near, half_turn, rot)


def kabsch(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Rotations R (..., 3, 3) minimising sum_i w_i |R (src_i - src_c) - (dst_i - dst_c)|^2.

    Args:
        src, dst: (..., N, 3) corresponding points (a common scale factor is irrelevant).
        weights: (..., N) non-negative, default ones; centroids c are weighted means.

    Returns:
        Proper rotations (det +1); identity where all weights are 0 or the points coincide.
    """
    w = np.ones(src.shape[:-1]) if weights is None else np.asarray(weights, np.float64)
    wn = (w / np.maximum(w.sum(-1, keepdims=True), EPS))[..., None]
    sc = src - (wn * src).sum(-2, keepdims=True)
    dc = dst - (wn * dst).sum(-2, keepdims=True)
    h = np.swapaxes(sc * wn, -1, -2) @ dc
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.ones(h.shape[:-1])
    fix[..., 2] = np.where(d == 0, 1.0, d)
    return np.swapaxes(vt, -1, -2) @ (fix[..., :, None] * np.swapaxes(u, -1, -2))


def fractional(rotmat: np.ndarray, t: float) -> np.ndarray:
    """``R ** t`` (..., 3, 3): the rotation about the same axis by ``t`` times the angle."""
    return rotvec_to_matrix(matrix_to_rotvec(rotmat) * t)


def clamp_angle(rotmat: np.ndarray, max_rad: float | np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) with their angle limited to ``max_rad`` (same axis)."""
    vec = matrix_to_rotvec(rotmat)
    angle = np.sqrt(dot(vec, vec))
    scale = np.minimum(1.0, max_rad / np.maximum(angle, EPS))
    return rotvec_to_matrix(vec * scale[..., None])


def wrap_angle(angle: np.ndarray) -> np.ndarray:
    """Angles mapped to (-pi, pi]."""
    return np.pi - np.mod(np.pi - angle, 2 * np.pi)
