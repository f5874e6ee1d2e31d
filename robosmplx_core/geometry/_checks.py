"""Private input checks shared by the geometry modules (trailing-shape and type checks).

``robosmplx_core.checks.check_shape`` checks a fixed rank; geometry functions accept any
leading batch dimensions, so they check only the trailing sizes here, with the same style of
message: ``"rotmat: expected shape (..., 3, 3), got (4, 3)"``.
"""

from __future__ import annotations

import torch

from robosmplx_core.checks import check_float, check_shape


def check_tensor(x: object, *, name: str) -> None:
    """Raise ``TypeError`` unless ``x`` is a floating-point ``torch.Tensor``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor, got {type(x).__name__}; "
            "convert with torch.as_tensor(x, dtype=torch.float32)"
        )
    check_float(x, name=name)


def check_trailing(x: torch.Tensor, tail: str, *, name: str) -> None:
    """Check the trailing sizes of ``x`` (e.g. ``tail="3 3"``), any leading dimensions allowed.

    Raises:
        ValueError: naming the field, the expected shape ``(..., *tail)`` and the actual shape.
    """
    tokens = tail.split()
    expected = f"(..., {', '.join(tokens)})"
    if x.ndim < len(tokens):
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(x.shape)}")
    try:
        check_shape(x, " ".join(["*"] * (x.ndim - len(tokens)) + tokens), name=name)
    except ValueError:
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(x.shape)}") from None
