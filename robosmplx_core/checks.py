"""Input checks for public functions and stage boundaries.

``check_shape(x, "B J 3 3", name="body_pose")`` verifies the number of dimensions and every
fixed size, binds symbolic sizes (upper-case names) consistently, and raises a ``ValueError``
that names the field, the expected and the actual shape. ``check_finite`` rejects NaN/inf.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

ArrayLike = Any  # np.ndarray | torch.Tensor


def _shape_of(x: ArrayLike) -> tuple[int, ...]:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return tuple(int(s) for s in x.shape)
    raise TypeError(f"expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def check_shape(
    x: ArrayLike,
    spec: str,
    *,
    name: str = "input",
    dims: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Check that ``x`` has the shape described by ``spec``.

    Args:
        x: a tensor or array.
        spec: space-separated sizes, each an integer (must match exactly), a name (bound on
            first use, must agree afterwards and with ``dims``) or ``*`` (any size), e.g.
            ``"B 21 3 3"``.
        name: the field name used in the error message.
        dims: sizes already known, e.g. ``{"B": 4}``.

    Returns:
        The symbolic sizes bound by this check (merged with ``dims``).

    Raises:
        ValueError: wrong number of dimensions or a mismatching size.
        TypeError: ``x`` is neither a tensor nor an array.
    """
    shape = _shape_of(x)
    tokens = spec.split()
    bound = dict(dims or {})
    if len(shape) != len(tokens):
        raise ValueError(f"{name}: expected shape ({', '.join(tokens)}), got {shape}")
    for size, tok in zip(shape, tokens):
        if tok == "*":
            continue
        if tok.lstrip("-").isdigit():
            if size != int(tok):
                raise ValueError(f"{name}: expected shape ({', '.join(tokens)}), got {shape}")
            continue
        if tok in bound and bound[tok] != size:
            raise ValueError(
                f"{name}: expected shape ({', '.join(tokens)}) with {tok}={bound[tok]}, got {shape}"
            )
        bound[tok] = size
    return bound


def check_finite(x: ArrayLike, *, name: str = "input") -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or infinite values (names the field)."""
    if isinstance(x, torch.Tensor):
        if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
            ok = bool(np.isfinite(x.detach().numpy()).all())  # ~10x cheaper than torch on tiny tensors
        else:
            ok = bool(torch.isfinite(x).all()) if x.numel() else True
    else:
        ok = bool(np.isfinite(x).all()) if np.size(x) else True
    if not ok:
        raise ValueError(f"{name}: contains NaN or inf values; check the upstream stage that produced it")


def check_float(x: ArrayLike, *, name: str = "input") -> None:
    """Raise ``ValueError`` unless ``x`` has a floating-point dtype."""
    if isinstance(x, torch.Tensor):
        ok = x.is_floating_point()
    else:
        ok = np.issubdtype(np.asarray(x).dtype, np.floating)
    if not ok:
        raise ValueError(f"{name}: expected a floating-point dtype, got {x.dtype}")
