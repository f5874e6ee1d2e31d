"""One Euro filter for vectors, driven by timestamps (Casiez, Roussel, Vogel, CHI 2012).

Per sample ``x`` at time ``stamp_s`` (seconds), with ``dt`` the time since the last accepted
sample and ``x_hat`` the previous output:

    alpha(f_c, dt) = 1 / (1 + tau / dt),   tau = 1 / (2 pi f_c)
    dx      = (x - x_hat) / dt                                   # speed, units per second
    dx_hat  = alpha(d_cutoff_hz, dt) * dx + (1 - alpha_d) * dx_hat
    f_c     = min_cutoff_hz + beta * |dx_hat|
    x_hat   = alpha(f_c, dt) * x + (1 - alpha) * x_hat

The first sample passes through (and ``dx_hat`` starts at 0). A non-positive ``dt``
(repeated or backwards stamp) returns the previous output unchanged, leaves the state as it
was and is counted in :attr:`OneEuroFilter.num_skipped`. ``beta`` is in 1 / (units of x),
so it depends on the units of the signal (metres for translations, radians for angles).

Inputs are numpy arrays or torch tensors of shape ``(..., D)``; the math runs in float64
numpy and the output has the input's type, dtype and device.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np
import torch

from robosmplx_core.config import OneEuroConfig

ArrayLike = Any  # np.ndarray | torch.Tensor

__all__ = ["OneEuroFilter", "smoothing_alpha", "as_float64"]


def smoothing_alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    """Exponential-smoothing weight of a first-order low-pass: ``1 / (1 + tau / dt)``.

    Args:
        cutoff_hz: cutoff frequency ``f_c`` (> 0), scalar or array of any shape.
        dt_s: time step in seconds (> 0).
    Returns:
        alpha in (0, 1), same shape as ``cutoff_hz``.
    """
    tau_s = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau_s / dt_s)


def as_float64(x: ArrayLike, *, name: str) -> tuple[np.ndarray, Callable[[np.ndarray], ArrayLike]]:
    """``x`` as a float64 numpy array and a function converting results back to ``x``'s kind.

    Torch tensors come back with their dtype and device; float numpy arrays with their dtype;
    other numpy input comes back as float64.

    Raises:
        TypeError: ``x`` is neither a numpy array nor a torch tensor.
        ValueError: ``x`` holds NaN or inf.
    """
    if isinstance(x, torch.Tensor):
        arr = x.detach().to(device="cpu", dtype=torch.float64).numpy()
        dtype, device = (x.dtype if x.is_floating_point() else torch.float64), x.device

        def restore(out: np.ndarray) -> ArrayLike:
            return torch.from_numpy(out).to(device=device, dtype=dtype)
    elif isinstance(x, np.ndarray):
        arr = x.astype(np.float64, copy=False)
        np_dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64

        def restore(out: np.ndarray) -> ArrayLike:
            return out.astype(np_dtype, copy=False)
    else:
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}; "
                        "wrap lists with np.asarray")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf; check the upstream stage that produced it")
    return arr, restore


def check_params(min_cutoff_hz: float | np.ndarray, beta: float | np.ndarray,
                 d_cutoff_hz: float | np.ndarray, *, name: str) -> None:
    """Raise ``ValueError`` unless both cutoffs are > 0 and ``beta`` >= 0 (every entry)."""
    if not (np.all(np.asarray(min_cutoff_hz) > 0) and np.all(np.asarray(d_cutoff_hz) > 0)
            and np.all(np.asarray(beta) >= 0)):
        raise ValueError(f"{name}: expected min_cutoff_hz > 0, d_cutoff_hz > 0 and beta >= 0, got "
                         f"{min_cutoff_hz}, {d_cutoff_hz}, {beta}; see OneEuroConfig")


def check_stamp(stamp_s: float, *, name: str) -> float:
    """``stamp_s`` as a float; raise ``ValueError`` if it is not finite."""
    stamp = float(stamp_s)
    if not math.isfinite(stamp):
        raise ValueError(f"{name}: expected a finite time in seconds, got {stamp_s}")
    return stamp


def _param(value: float | np.ndarray) -> float | np.ndarray:
    """A filter parameter as a float, or as a float64 array when given per row."""
    return value.astype(np.float64) if isinstance(value, np.ndarray) else float(value)


class OneEuroFilter:
    """One Euro filter for a vector signal ``(..., D)``; state is per instance.

    Args:
        min_cutoff_hz: cutoff at rest (> 0); lower = smoother, more lag when slow.
        beta: speed coefficient (>= 0, in 1 / units of x); higher = less lag when fast.
        d_cutoff_hz: cutoff of the speed estimate (> 0).
            Each of the three is a float or a float64 array broadcastable against the
            per-vector cutoff ``(..., 1)`` (e.g. ``(R, 1)``: own parameters per row), so
            quantities with different parameters can share one filter call.
        vector_speed: False (the reference filter applied per channel): one adaptive cutoff
            per channel from ``|dx_hat|`` of that channel. True: one cutoff per vector from
            the Euclidean norm of ``dx_hat`` over the last axis; rotation-invariant, use it
            for positions.

    Attributes:
        num_skipped: samples ignored because their stamp was not after the last accepted one.
        last_alpha: weight of the newest sample in the last output, float64 ``(..., D)`` or
            ``(..., 1)`` (1 for the first sample, 0 for a skipped one); None before any sample.
    """

    def __init__(self, *, min_cutoff_hz: float | np.ndarray, beta: float | np.ndarray,
                 d_cutoff_hz: float | np.ndarray, vector_speed: bool = False) -> None:
        check_params(min_cutoff_hz, beta, d_cutoff_hz, name="OneEuroFilter")
        self.min_cutoff_hz = _param(min_cutoff_hz)
        self.beta = _param(beta)
        self.d_cutoff_hz = _param(d_cutoff_hz)
        self.vector_speed = bool(vector_speed)
        self.num_skipped = 0
        self.reset()

    @classmethod
    def from_config(cls, cfg: OneEuroConfig, *, vector_speed: bool = False) -> "OneEuroFilter":
        """Filter with the parameters of ``cfg`` (see :class:`OneEuroConfig`)."""
        return cls(min_cutoff_hz=cfg.min_cutoff_hz, beta=cfg.beta, d_cutoff_hz=cfg.d_cutoff_hz,
                   vector_speed=vector_speed)

    def reset(self) -> None:
        """Forget the signal; the next sample passes through. ``num_skipped`` is kept."""
        self._stamp_s: Optional[float] = None
        self._x_hat: Optional[np.ndarray] = None
        self._dx_hat: Optional[np.ndarray] = None
        self.last_alpha: Optional[np.ndarray] = None

    @property
    def initialized(self) -> bool:
        """True once a sample has been accepted since construction or :meth:`reset`."""
        return self._x_hat is not None

    def __call__(self, x: ArrayLike, stamp_s: float) -> ArrayLike:
        """Filter one sample.

        Args:
            x: ``(..., D)`` numpy array or torch tensor, the same shape on every call.
            stamp_s: the sample's time in seconds (message stamp), finite.
        Returns:
            The filtered sample, same shape, type, dtype and device as ``x`` (the first sample
            and every sample after :meth:`reset` come back with ``x``'s values).
        Raises:
            ValueError: non-finite ``x`` or ``stamp_s``, or a shape other than the first
                sample's (call :meth:`reset` when the signal changes size).
        """
        stamp = check_stamp(stamp_s, name="OneEuroFilter stamp_s")
        arr, restore = as_float64(x, name="OneEuroFilter input")
        return restore(self.filter_array(arr, stamp))

    def filter_array(self, x: np.ndarray, stamp_s: float) -> np.ndarray:
        """:meth:`__call__` for a finite float64 numpy ``x`` ``(..., D)`` and a finite float stamp.

        No conversion and no finiteness check (for callers that validated already); returns a
        new float64 array.
        """
        if x.ndim == 0:
            raise ValueError("OneEuroFilter input: expected shape (..., D), got a scalar; use shape (1,)")
        if self._x_hat is None or self._stamp_s is None:
            self._stamp_s, self._x_hat = stamp_s, x.copy()
            self._dx_hat = np.zeros_like(x)
            self.last_alpha = np.ones(x.shape[:-1] + (1,))
            return x.copy()
        if x.shape != self._x_hat.shape:
            raise ValueError(f"OneEuroFilter input: expected shape {self._x_hat.shape} as on the first "
                             f"sample, got {x.shape}; call reset() when the signal changes size")
        dt_s = stamp_s - self._stamp_s
        if dt_s <= 0.0:
            self.num_skipped += 1
            self.last_alpha = np.zeros(x.shape[:-1] + (1,))
            return self._x_hat.copy()
        self._x_hat = self._step(x, dt_s)
        self._stamp_s = stamp_s
        return self._x_hat.copy()

    def _step(self, arr: np.ndarray, dt_s: float) -> np.ndarray:
        """One accepted sample: update the speed estimate and return the new output."""
        assert self._x_hat is not None and self._dx_hat is not None  # guaranteed by __call__
        dx = (arr - self._x_hat) / dt_s
        alpha_d = smoothing_alpha(self.d_cutoff_hz, dt_s)
        self._dx_hat = alpha_d * dx + (1.0 - alpha_d) * self._dx_hat
        if self.vector_speed:
            speed = np.linalg.norm(self._dx_hat, axis=-1, keepdims=True)
        else:
            speed = np.abs(self._dx_hat)
        alpha = smoothing_alpha(self.min_cutoff_hz + self.beta * speed, dt_s)
        self.last_alpha = alpha
        return alpha * arr + (1.0 - alpha) * self._x_hat
