"""Drawing meshes and skeletons onto images (OpenCV, CPU)."""

from robosmplx_core.render.mesh import render_mesh

__all__ = ["render_mesh"]
