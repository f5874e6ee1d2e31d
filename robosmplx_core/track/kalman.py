"""Constant-velocity Kalman filter on person boxes, batched over K tracks, time-explicit.

State ``x`` (K, 8): ``(cx, cy, w, h, vcx, vcy, vw, vh)``; centre and size in pixels,
velocities in pixels per second. Measurement ``z`` (K, 4): ``(cx, cy, w, h)`` pixels (convert
boxes with :func:`boxes_xyxy_to_measurements`). All arrays are float64 numpy arrays; inputs are
never modified in place.

Covariance ``P`` (K, 4, 2, 2): one 2x2 block per axis ``a`` in (cx, cy, w, h) over
``(x[:, a], x[:, a + 4])`` = (value, velocity). In this model the four axes are independent
(the transition, process noise, measurement noise and initial covariance are all block-diagonal
per axis, exactly as in ByteTrack's 8x8 filter), so the 8x8 covariance is block-diagonal and
storing the blocks is exact; every step is closed-form with no matrix inverse
(:func:`dense_covariance` rebuilds the 8x8 matrix).

Noise follows ByteTrack's ``kalman_filter.py`` (Zhang et al. 2022): standard deviations are
fractions of the box size (x-quantities scale with ``w``, y-quantities with ``h``, as in
BoT-SORT's xywh variant). ByteTrack's noise is per frame; here the process noise *variance*
grows linearly with the time step (a random walk), so that at ``dt_s = 1 / ref_rate_hz`` it
equals ByteTrack's per-frame values and at ``dt_s = 0`` the prediction changes nothing.
A zero or negative ``dt_s`` is a zero-time predict: the state is returned unchanged (time
never runs backwards and nothing is divided by ``dt_s``).
"""

from __future__ import annotations

import math

import numpy as np

from robosmplx_core.checks import check_shape

__all__ = ["BoxKalmanFilter", "boxes_xyxy_to_measurements", "states_to_boxes_xyxy", "dense_covariance"]

STATE_DIM = 8
MEAS_DIM = 4


def _require(x: np.ndarray, shape: tuple[int, ...], spec: str, name: str) -> None:
    """Cheap exact-shape test; on mismatch ``check_shape`` raises its usual message."""
    if x.shape != shape:
        check_shape(x, spec, name=name)
        raise ValueError(f"{name}: expected shape {shape}, got {x.shape}")


def _rows(x: np.ndarray, cols: int, name: str) -> int:
    """Number of rows K of a (K, cols) array, raising the ``check_shape`` message otherwise."""
    if x.ndim != 2 or x.shape[1] != cols:
        check_shape(x, f"K {cols}", name=name)
    return int(x.shape[0])


def boxes_xyxy_to_measurements(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(K, 4) xyxy pixels -> (K, 4) float64 ``(cx, cy, w, h)`` measurements."""
    b = np.asarray(boxes_xyxy, dtype=np.float64)
    _rows(b, 4, "boxes_xyxy")
    z = np.empty_like(b)
    z[:, 0:2] = (b[:, 0:2] + b[:, 2:4]) * 0.5
    z[:, 2:4] = b[:, 2:4] - b[:, 0:2]
    return z


def states_to_boxes_xyxy(states: np.ndarray) -> np.ndarray:
    """(K, 8) states -> (K, 4) float64 xyxy boxes; negative sizes are clamped to 0."""
    _rows(states, STATE_DIM, "states")
    half = np.maximum(states[:, 2:4], 0.0) * 0.5
    return np.concatenate([states[:, 0:2] - half, states[:, 0:2] + half], axis=1)


def dense_covariance(P: np.ndarray) -> np.ndarray:
    """(K, 4, 2, 2) per-axis blocks -> (K, 8, 8) covariance over the state ``x``."""
    check_shape(P, "K 4 2 2", name="P")
    dense = np.zeros((P.shape[0], STATE_DIM, STATE_DIM))
    axes = np.arange(MEAS_DIM)
    for i in range(2):
        for j in range(2):
            dense[:, axes + 4 * i, axes + 4 * j] = P[:, :, i, j]
    return dense


class BoxKalmanFilter:
    """Batched constant-velocity Kalman filter on ``(cx, cy, w, h)`` boxes.

    Args:
        std_weight_position: value noise std as a fraction of the box size (ByteTrack: 1/20);
            used for the measurement noise and the per-reference-step process noise.
        std_weight_velocity: velocity noise std per reference step, as a fraction of the box
            size per frame (ByteTrack: 1/160).
        ref_rate_hz: the frame rate at which the process noise equals ByteTrack's per-frame
            noise (30 Hz, the rate ByteTrack was tuned at).
        min_size_px: sizes below this are treated as this size when scaling noise, so a
            degenerate (zero-size) box never gives a zero variance.
    """

    def __init__(
        self,
        *,
        std_weight_position: float = 1.0 / 20.0,
        std_weight_velocity: float = 1.0 / 160.0,
        ref_rate_hz: float = 30.0,
        min_size_px: float = 1.0,
    ) -> None:
        for name, value in (("std_weight_position", std_weight_position),
                            ("std_weight_velocity", std_weight_velocity),
                            ("ref_rate_hz", ref_rate_hz), ("min_size_px", min_size_px)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"BoxKalmanFilter.{name}: expected a finite value > 0, got {value}")
        self.std_weight_position = float(std_weight_position)
        self.std_weight_velocity = float(std_weight_velocity)
        self.ref_rate_hz = float(ref_rate_hz)
        self.min_size_px = float(min_size_px)

    def _axis_scale(self, states_or_meas: np.ndarray) -> np.ndarray:
        """(K, >=4) -> (K, 4) size scale per axis: (w, h, w, h), floored at ``min_size_px``."""
        s = np.maximum(states_or_meas[:, 2:4], self.min_size_px)
        return np.concatenate([s, s], axis=1)

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from unassociated measurements.

        Args:
            measurements: (K, 4) ``(cx, cy, w, h)`` pixels.

        Returns:
            ``(x, P)``: (K, 8) state with zero velocity and (K, 4, 2, 2) diagonal blocks with
            ByteTrack's initial stds (2x the position weight; 10x the velocity weight per
            frame, converted to pixels per second).
        """
        z = np.asarray(measurements, dtype=np.float64)
        k = _rows(z, MEAS_DIM, "measurements")
        x = np.concatenate([z, np.zeros_like(z)], axis=1)
        scale = self._axis_scale(z)
        P = np.zeros((k, MEAS_DIM, 2, 2))
        P[:, :, 0, 0] = (2.0 * self.std_weight_position * scale) ** 2
        P[:, :, 1, 1] = (10.0 * self.std_weight_velocity * self.ref_rate_hz * scale) ** 2
        return x, P

    def predict(self, x: np.ndarray, P: np.ndarray, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Propagate the states ``dt_s`` seconds ahead.

        Args:
            x: (K, 8) states. P: (K, 4, 2, 2) covariance blocks.
            dt_s: time step in seconds; ``<= 0`` is a zero-time predict (copies returned).

        Returns:
            ``(x, P)`` predicted, same shapes.

        Raises:
            ValueError: ``dt_s`` is NaN or infinite (pass the difference of two finite stamps).
        """
        k = _rows(x, STATE_DIM, "x")
        _require(P, (k, MEAS_DIM, 2, 2), f"{k} 4 2 2", "P")
        if not math.isfinite(dt_s):
            raise ValueError(f"BoxKalmanFilter.predict: dt_s must be finite, got {dt_s}; "
                             "pass the difference of two finite frame stamps in seconds")
        if dt_s <= 0.0 or k == 0:
            return x.copy(), P.copy()
        scale = self._axis_scale(x)
        steps = dt_s * self.ref_rate_hz  # reference frames elapsed; noise variance grows linearly
        q_val = (self.std_weight_position * scale) ** 2 * steps
        q_vel = (self.std_weight_velocity * self.ref_rate_hz * scale) ** 2 * steps
        x_new = x.copy()
        x_new[:, :MEAS_DIM] += dt_s * x[:, MEAS_DIM:]
        p00, p01, p11 = P[:, :, 0, 0], P[:, :, 0, 1], P[:, :, 1, 1]
        P_new = np.empty_like(P)
        P_new[:, :, 0, 0] = p00 + 2.0 * dt_s * p01 + dt_s * dt_s * p11 + q_val  # F P F^T + Q
        P_new[:, :, 0, 1] = P_new[:, :, 1, 0] = p01 + dt_s * p11
        P_new[:, :, 1, 1] = p11 + q_vel
        return x_new, P_new

    def update(self, x: np.ndarray, P: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct the states with one measurement each.

        Args:
            x: (K, 8) predicted states. P: (K, 4, 2, 2) predicted covariance blocks.
            measurements: (K, 4) ``(cx, cy, w, h)`` pixels; row k belongs to state k.

        Returns:
            ``(x, P)`` corrected, same shapes. The measurement noise std is the position
            weight times the predicted size, as in ByteTrack.
        """
        k = _rows(x, STATE_DIM, "x")
        _require(P, (k, MEAS_DIM, 2, 2), f"{k} 4 2 2", "P")
        z = np.asarray(measurements, dtype=np.float64)
        _require(z, (k, MEAS_DIM), f"{k} 4", "measurements")
        if k == 0:
            return x.copy(), P.copy()
        r = (self.std_weight_position * self._axis_scale(x)) ** 2
        p00, p01, p11 = P[:, :, 0, 0], P[:, :, 0, 1], P[:, :, 1, 1]
        s = p00 + r  # innovation variance per axis (K, 4)
        gain_val, gain_vel = p00 / s, p01 / s
        innovation = z - x[:, :MEAS_DIM]
        x_new = np.concatenate([x[:, :MEAS_DIM] + gain_val * innovation,
                                x[:, MEAS_DIM:] + gain_vel * innovation], axis=1)
        P_new = np.empty_like(P)
        P_new[:, :, 0, 0] = p00 * r / s  # (I - G H) P
        P_new[:, :, 0, 1] = P_new[:, :, 1, 0] = p01 * r / s
        P_new[:, :, 1, 1] = p11 - p01 * p01 / s
        return x_new, P_new
