"""One Euro filtering of rotations on SO(3), vectorised over any number of rotations.

Never filters Euler angles or axis-angle per channel (those jump at the wrap-around, e.g. a
rotation vector goes from ``+pi z`` to ``-pi z`` for a tiny rotation). Per rotation, with
``R_hat`` the previous output and ``dt`` the time since the last accepted sample:

    delta     = log(R_hat^T R)               # (3,) body-frame rotation vector, angle <= pi
    omega     = delta / dt                   # angular velocity, rad/s
    omega_hat = alpha(d_cutoff_hz, dt) * omega + (1 - alpha_d) * omega_hat
    f_c       = min_cutoff_hz + beta * |omega_hat|
    R_hat     = R_hat exp(alpha(f_c, dt) * delta)      # geodesic interpolation (slerp)

The state is kept as unit quaternions (renormalised every step, so it never drifts off
SO(3)); ``log`` takes the shortest arc, so consecutive outputs move by at most the geodesic
distance to the new sample. Stamps follow :mod:`.one_euro`: the first sample passes
through; a non-positive ``dt`` returns the previous output and is counted.

Conventions: rotation matrices act on column vectors; quaternions here are xyzw (scalar
last), as in :mod:`robosmplx_core.geometry.rotations`; angles in radians. The math runs in
float64 numpy (torch overhead on 55 tiny matrices would dominate); inputs and outputs are
numpy arrays or torch tensors ``(..., 3, 3)``, returned in the input's type/dtype/device.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from robosmplx_core.config import OneEuroConfig
from robosmplx_core.smoothing.one_euro import (
    ArrayLike,
    as_float64,
    check_params,
    check_stamp,
    smoothing_alpha,
)

__all__ = ["SO3OneEuroFilter", "quat_exp", "quat_from_matrix", "quat_log", "quat_multiply", "quat_to_matrix"]

_X, _Y, _Z, _W = range(4)
# 4 q q^T from R (Shepperd): entry (a, b) = offset + sum of sign * R[i, j].
_QQT_FROM_R = {
    (_X, _X): (1.0, [(0, 0, 1), (1, 1, -1), (2, 2, -1)]),
    (_Y, _Y): (1.0, [(0, 0, -1), (1, 1, 1), (2, 2, -1)]),
    (_Z, _Z): (1.0, [(0, 0, -1), (1, 1, -1), (2, 2, 1)]),
    (_W, _W): (1.0, [(0, 0, 1), (1, 1, 1), (2, 2, 1)]),
    (_X, _Y): (0.0, [(0, 1, 1), (1, 0, 1)]),
    (_X, _Z): (0.0, [(0, 2, 1), (2, 0, 1)]),
    (_Y, _Z): (0.0, [(1, 2, 1), (2, 1, 1)]),
    (_X, _W): (0.0, [(2, 1, 1), (1, 2, -1)]),
    (_Y, _W): (0.0, [(0, 2, 1), (2, 0, -1)]),
    (_Z, _W): (0.0, [(1, 0, 1), (0, 1, -1)]),
}
# R[i, j] of a unit quaternion: sum of sign * q_a * q_b.
_R_FROM_QQ = {
    (0, 0): [(_X, _X, 1), (_Y, _Y, -1), (_Z, _Z, -1), (_W, _W, 1)],
    (1, 1): [(_X, _X, -1), (_Y, _Y, 1), (_Z, _Z, -1), (_W, _W, 1)],
    (2, 2): [(_X, _X, -1), (_Y, _Y, -1), (_Z, _Z, 1), (_W, _W, 1)],
    (0, 1): [(_X, _Y, 2), (_Z, _W, -2)], (1, 0): [(_X, _Y, 2), (_Z, _W, 2)],
    (0, 2): [(_X, _Z, 2), (_Y, _W, 2)], (2, 0): [(_X, _Z, 2), (_Y, _W, -2)],
    (1, 2): [(_Y, _Z, 2), (_X, _W, -2)], (2, 1): [(_Y, _Z, 2), (_X, _W, 2)],
}
# Hamilton product: (a * b)_k = sum of sign * a_i * b_j.
_PRODUCT = {
    _X: [(_W, _X, 1), (_X, _W, 1), (_Y, _Z, 1), (_Z, _Y, -1)],
    _Y: [(_W, _Y, 1), (_X, _Z, -1), (_Y, _W, 1), (_Z, _X, 1)],
    _Z: [(_W, _Z, 1), (_X, _Y, 1), (_Y, _X, -1), (_Z, _W, 1)],
    _W: [(_W, _W, 1), (_X, _X, -1), (_Y, _Y, -1), (_Z, _Z, -1)],
}


def _linear_maps() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tables above as matrices, so that each formula is one matmul (xyzw order).

    Returns ``(r_to_qqt, qqt_offset, qq_to_r, qq_to_product)``:
        ``4 q q^T`` (16,) = ``R.flat`` (9,) @ r_to_qqt (9, 16) + qqt_offset (16,);
        ``R.flat`` (9,) = ``(q outer q).flat`` (16,) @ qq_to_r (16, 9)  (unit q);
        ``a * b`` (4,) = ``(a outer b).flat`` (16,) @ qq_to_product (16, 4).
    """
    r_to_qqt, offset = np.zeros((3, 3, 4, 4)), np.zeros((4, 4))
    for (a, b), (const, terms) in _QQT_FROM_R.items():
        offset[a, b] = offset[b, a] = const
        for i, j, sign in terms:
            r_to_qqt[i, j, a, b] = r_to_qqt[i, j, b, a] = sign
    qq_to_r = np.zeros((4, 4, 3, 3))
    for (i, j), terms in _R_FROM_QQ.items():
        for a, b, coeff in terms:  # split symmetric products evenly over (a, b) and (b, a)
            qq_to_r[a, b, i, j] += coeff / 2
            qq_to_r[b, a, i, j] += coeff / 2
    product = np.zeros((4, 4, 4))
    for k, terms in _PRODUCT.items():
        for i, j, sign in terms:
            product[i, j, k] = sign
    return r_to_qqt.reshape(9, 16), offset.reshape(16), qq_to_r.reshape(16, 9), product.reshape(16, 4)


_R_TO_QQT, _QQT_OFFSET, _QQ_TO_R, _QQ_TO_PRODUCT = _linear_maps()
_CONJUGATE = np.array([-1.0, -1.0, -1.0, 1.0])


def _norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis, keeping it: ``(..., K)`` -> ``(..., 1)``."""
    return np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]


def quat_from_matrix(rotmat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` -> unit quaternions ``(..., 4)`` xyzw (sign arbitrary).

    Shepperd's method: of the four rows of ``4 q q^T`` (each linear in ``R``) take the one
    with the largest diagonal entry, well conditioned for every rotation (angles near pi
    included). Slightly non-orthonormal input is accepted; the result is normalised.
    """
    lead = rotmat.shape[:-2]
    qqt = (rotmat.reshape(-1, 9) @ _R_TO_QQT + _QQT_OFFSET).reshape(-1, 4, 4)
    best = np.argmax(qqt.reshape(-1, 16)[:, ::5], axis=-1)  # the diagonal
    quat = qqt[np.arange(qqt.shape[0]), best]
    return (quat / _norm(quat)).reshape(*lead, 4)


def quat_to_matrix(quat: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` xyzw -> rotation matrices ``(..., 3, 3)``."""
    outer = (quat[..., :, None] * quat[..., None, :]).reshape(*quat.shape[:-1], 16)
    return (outer @ _QQ_TO_R).reshape(*quat.shape[:-1], 3, 3)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of quaternions ``(..., 4)`` xyzw (the rotation ``R_a R_b``)."""
    outer = a[..., :, None] * b[..., None, :]
    return outer.reshape(*outer.shape[:-2], 16) @ _QQ_TO_PRODUCT


def quat_log(quat: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` xyzw -> rotation vectors ``(..., 3)``, shortest arc.

    ``q`` and ``-q`` give the same result (the sign of ``w`` is folded in); the angle is in
    ``[0, pi]``. Exact near 0: ``2 atan2(s, |w|) / s`` tends to ``2 / |w|`` and floating-point
    ``atan2`` keeps that ratio, so no series expansion is needed.
    """
    w, vec = quat[..., 3:], quat[..., :3]
    sin_half = _norm(vec)
    angle = 2.0 * np.arctan2(sin_half, np.abs(w))
    return vec * (np.copysign(angle, w) / np.where(sin_half > 0.0, sin_half, 1.0))


def quat_exp(rotvec: np.ndarray) -> np.ndarray:
    """Rotation vectors ``(..., 3)`` (radians) -> unit quaternions ``(..., 4)`` xyzw.

    ``sin(angle / 2) / angle`` is evaluated directly: floating-point ``sin`` is exact to
    first order, so it stays accurate down to the smallest angles (0 gives the identity).
    """
    angle = _norm(rotvec)
    half = 0.5 * angle
    scale = np.sin(half) / np.where(angle > 0.0, angle, 1.0)
    return np.concatenate([rotvec * scale, np.cos(half)], axis=-1)


class SO3OneEuroFilter:
    """One Euro filter for rotation matrices ``(..., 3, 3)``, one adaptive cutoff per rotation.

    Args:
        min_cutoff_hz: cutoff at rest (> 0).
        beta: speed coefficient in s/rad (>= 0): cutoff grows by ``beta`` Hz per rad/s.
        d_cutoff_hz: cutoff of the angular-velocity estimate (> 0).

    Attributes:
        num_skipped: samples ignored because their stamp was not after the last accepted one.
    """

    def __init__(self, *, min_cutoff_hz: float, beta: float, d_cutoff_hz: float) -> None:
        check_params(min_cutoff_hz, beta, d_cutoff_hz, name="SO3OneEuroFilter")
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.d_cutoff_hz = float(d_cutoff_hz)
        self.num_skipped = 0
        self.reset()

    @classmethod
    def from_config(cls, cfg: OneEuroConfig) -> "SO3OneEuroFilter":
        """Filter with the parameters of ``cfg`` (see :class:`OneEuroConfig`)."""
        return cls(min_cutoff_hz=cfg.min_cutoff_hz, beta=cfg.beta, d_cutoff_hz=cfg.d_cutoff_hz)

    def reset(self) -> None:
        """Forget the signal; the next sample passes through. ``num_skipped`` is kept."""
        self._stamp_s: Optional[float] = None
        self._quat_hat: Optional[np.ndarray] = None  # (..., 4) unit, xyzw
        self._omega_hat: Optional[np.ndarray] = None  # (..., 3) rad/s, body frame of the output
        self._out: Optional[np.ndarray] = None  # (..., 3, 3) last output, float64

    @property
    def initialized(self) -> bool:
        """True once a sample has been accepted since construction or :meth:`reset`."""
        return self._quat_hat is not None

    def __call__(self, rotmat: ArrayLike, stamp_s: float) -> ArrayLike:
        """Filter one sample of rotations.

        Args:
            rotmat: ``(..., 3, 3)`` rotation matrices (numpy or torch), same shape every call.
            stamp_s: the sample's time in seconds, finite.
        Returns:
            ``(..., 3, 3)`` filtered rotations in ``rotmat``'s type/dtype/device, proper and
            orthonormal to float precision (the first sample comes back as given).
        Raises:
            ValueError: wrong or changed shape (call :meth:`reset` when the number of
                rotations changes), or non-finite values.
        """
        stamp = check_stamp(stamp_s, name="SO3OneEuroFilter stamp_s")
        arr, restore = as_float64(rotmat, name="SO3OneEuroFilter input")
        return restore(self.filter_array(arr, stamp))

    def filter_array(self, rotmat: np.ndarray, stamp_s: float) -> np.ndarray:
        """:meth:`__call__` for finite float64 numpy ``(..., 3, 3)`` and a finite float stamp.

        No conversion and no finiteness check (for callers that validated already); returns a
        new float64 array.
        """
        if rotmat.ndim < 2 or rotmat.shape[-2:] != (3, 3):
            raise ValueError(f"SO3OneEuroFilter input: expected shape (..., 3, 3), got {rotmat.shape}")
        if self._quat_hat is None or self._stamp_s is None or self._out is None:
            self._stamp_s, self._out = stamp_s, rotmat.copy()
            self._quat_hat = quat_from_matrix(rotmat)
            self._omega_hat = np.zeros(rotmat.shape[:-2] + (3,))
            return rotmat.copy()
        if rotmat.shape != self._out.shape:
            raise ValueError(f"SO3OneEuroFilter input: expected shape {self._out.shape} as on the first "
                             f"sample, got {rotmat.shape}; call reset() when the number of rotations changes")
        dt_s = stamp_s - self._stamp_s
        if dt_s <= 0.0:
            self.num_skipped += 1
            return self._out.copy()
        self._quat_hat = self._step(quat_from_matrix(rotmat), dt_s)
        self._stamp_s = stamp_s
        self._out = quat_to_matrix(self._quat_hat)
        return self._out.copy()

    def _step(self, quat: np.ndarray, dt_s: float) -> np.ndarray:
        """One accepted sample ``(..., 4)``: update the angular velocity, return the new state."""
        assert self._quat_hat is not None and self._omega_hat is not None  # guaranteed by __call__
        prev = self._quat_hat
        conj_prev = prev * _CONJUGATE
        delta = quat_log(quat_multiply(conj_prev, quat))  # (..., 3), |delta| <= pi
        alpha_d = smoothing_alpha(self.d_cutoff_hz, dt_s)
        self._omega_hat = alpha_d * (delta / dt_s) + (1.0 - alpha_d) * self._omega_hat
        speed = _norm(self._omega_hat)
        alpha = smoothing_alpha(self.min_cutoff_hz + self.beta * speed, dt_s)
        quat_new = quat_multiply(prev, quat_exp(alpha * delta))
        return quat_new / _norm(quat_new)
