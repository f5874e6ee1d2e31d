"""Input checks and numpy/torch plumbing shared by the metric modules (private).

Every metric converts its inputs to float64 numpy arrays (detached, on the CPU), computes there,
and hands its result back with ``like``: a ``torch.Tensor`` of the reference input's floating
dtype and device when that input was a tensor, else a float64 ``numpy.ndarray``. Metrics are
evaluation code: they never carry gradients.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from robosmplx_core.checks import check_finite, check_shape

ArrayLike = Any  # np.ndarray | torch.Tensor

M_TO_MM = 1000.0
"""Inputs are in metres; every ``*_mm`` result is multiplied by this factor."""

RootIndex = int | Sequence[int] | None
"""Root joint(s) for root alignment: one index (e.g. the pelvis), several (their mean is the root,
e.g. both hips), or ``None`` for no alignment."""


def to_f64(x: ArrayLike, *, name: str) -> np.ndarray:
    """Return ``x`` (a float tensor or array) as a float64 numpy array; raise on other types."""
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise ValueError(f"{name}: expected a floating-point tensor, got {x.dtype}; use x.float()")
        return x.detach().to("cpu", torch.float64).numpy()
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"{name}: expected a floating-point array, got {x.dtype}; use x.astype(float)")
        return x.astype(np.float64, copy=False)
    raise TypeError(
        f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}; "
        "wrap it with np.asarray(x, dtype=float)"
    )


def like(values: np.ndarray, ref: ArrayLike) -> ArrayLike:
    """Return ``values`` as the same kind of array as ``ref`` (see the module docstring)."""
    if isinstance(ref, torch.Tensor):
        dtype = ref.dtype if ref.is_floating_point() else torch.float32
        return torch.as_tensor(np.ascontiguousarray(values), dtype=dtype, device=ref.device)
    return np.asarray(values, dtype=np.float64)


def check_points(x: ArrayLike, spec: str, *, name: str, dims: dict[str, int] | None = None):
    """Check shape ``spec`` and finiteness of one float input; return (float64 array, sizes)."""
    arr = to_f64(x, name=name)
    bound = check_shape(arr, spec, name=name, dims=dims)
    check_finite(arr, name=name)
    return arr, bound


def check_pair(pred: ArrayLike, gt: ArrayLike, spec: str, *, pred_name: str, gt_name: str):
    """Check a prediction/ground-truth pair of the same shape ``spec``; both must be finite.

    Returns:
        ``(pred, gt, sizes)``: float64 arrays and the symbolic sizes bound by ``spec``.
    """
    p, bound = check_points(pred, spec, name=pred_name)
    g, bound = check_points(gt, spec, name=gt_name, dims=bound)
    return p, g, bound


def as_weights(weights: ArrayLike | None, shape: tuple[int, ...], *, name: str) -> np.ndarray:
    """Validate per-element weights (bool/int/float, finite, ``>= 0``); ``None`` means all ones.

    Returns:
        float64 array of ``shape``; 0 removes an element, other values weight it.
    """
    if weights is None:
        return np.ones(shape, dtype=np.float64)
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    if not isinstance(weights, np.ndarray):
        got = type(weights).__name__
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray of weights, got {got}")
    if weights.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected bool, integer or float weights, got {weights.dtype}")
    if tuple(weights.shape) != tuple(shape):
        raise ValueError(
            f"{name}: expected shape {tuple(shape)}, got {tuple(weights.shape)}; "
            "give one weight per sample and element (np.broadcast_to / Tensor.expand a (J,) mask)"
        )
    w = weights.astype(np.float64)
    check_finite(w, name=name)
    if w.size and bool((w < 0).any()):
        raise ValueError(f"{name}: weights must be >= 0 (0 removes an element), got a negative value")
    return w


def weighted_row_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_j w_j v_j / sum_j w_j`` over the last axis; NaN where a row has no weight at all."""
    total = weights.sum(axis=-1)
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, (values * weights).sum(axis=-1) / safe, np.nan)


def as_indices(indices: Sequence[int] | np.ndarray, size: int, *, name: str) -> np.ndarray:
    """Validate a non-empty 1-D set of indices into an axis of ``size``; return int64."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of integer indices, got {indices!r}")
    if int(idx.min()) < 0 or int(idx.max()) >= size:
        raise ValueError(
            f"{name}: indices must lie in [0, {size}) for an axis of size {size}, "
            f"got range [{int(idx.min())}, {int(idx.max())}]; "
            "check that the index set belongs to this joint/vertex set"
        )
    return idx.astype(np.int64)


def root_indices(root: int | Sequence[int], size: int, *, name: str = "root") -> np.ndarray:
    """Validate a root spec (one index or several) into an axis of ``size``; return int64 (R,)."""
    if isinstance(root, (bool, np.bool_)):
        raise ValueError(f"{name}: expected a joint index or a sequence of them, got {root!r}")
    if isinstance(root, (int, np.integer)):
        root = [int(root)]
    return as_indices(root, size, name=name)
