"""Choice of differentiable (soft) rasteriser backend by name.

    rasterizer = make_soft_rasterizer("torch", height=256, width=256, sigma=0.25)
    out = rasterizer(verts_px, faces, face_labels, num_parts=P)  # SoftRaster

``"torch"`` (pure torch, CPU or CUDA, always available) is the default; ``"pytorch3d"`` uses
pytorch3d's C++/CUDA rasteriser when it is importable (its constructor raises ImportError with
install hints otherwise). Both take the keyword settings of
:class:`~robosmplx_core.render.soft.SoftRasterizer` and return the same
:class:`~robosmplx_core.render.soft.SoftRaster`.
"""

from __future__ import annotations

import importlib.util

from robosmplx_core.render.pytorch3d_backend import Pytorch3DSoftRasterizer
from robosmplx_core.render.soft import SoftRasterizer

__all__ = ["RASTERIZERS", "make_soft_rasterizer", "pytorch3d_available"]

RASTERIZERS: dict[str, type[SoftRasterizer]] = {
    "torch": SoftRasterizer,
    "pytorch3d": Pytorch3DSoftRasterizer,
}


def pytorch3d_available() -> bool:
    """True when ``import pytorch3d`` would find the package (does not import it)."""
    return importlib.util.find_spec("pytorch3d") is not None


def make_soft_rasterizer(backend: str = "torch", **settings) -> SoftRasterizer:
    """Build the soft rasteriser named ``backend`` (a key of :data:`RASTERIZERS`).

    Raises:
        ValueError: unknown backend name (lists the known ones).
        ImportError: ``"pytorch3d"`` without pytorch3d installed (says how to get it).
    """
    if backend not in RASTERIZERS:
        raise ValueError(f"backend: expected one of {sorted(RASTERIZERS)}, got {backend!r}")
    return RASTERIZERS[backend](**settings)
