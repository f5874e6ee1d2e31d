"""Optional pytorch3d backend of the soft rasteriser: same settings, inputs and output as
:class:`~robosmplx_core.render.soft.SoftRasterizer`, rasterised by pytorch3d's C++/CUDA
``rasterize_meshes`` (top ``faces_per_pixel`` faces per pixel, nearest first).

pytorch3d is not a dependency; constructing this class without it raises ``ImportError``
saying how to get it. Not exercised by the CPU test suite where pytorch3d is missing.

Conventions: as in ``soft.py`` (OpenCV integer pixel centres, z depth in metres). pytorch3d's
NDC has +x left, +y up and spans [-1, 1] across the shorter image side S, so the pixel centre
x = c maps to ``(W - 1 - 2 c) / S`` and y = r to ``(H - 1 - 2 r) / S``; squared NDC distances
are squared pixel distances times ``(2 / S)^2``. Back faces and faces outside [near, far] are
removed here (per batch item), not by pytorch3d. Differences from the torch backend: pixels
reached by more than ``faces_per_pixel`` faces drop the farthest ones.

Glossary: B batch, V vertices, F faces, P parts, H x W image, K faces per pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

from robosmplx_core.render.soft import SoftRaster, SoftRasterizer, check_mesh_inputs

__all__ = ["Pytorch3DSoftRasterizer", "pixels_to_ndc"]

_INSTALL_HINT = ("the 'pytorch3d' soft-rasteriser backend needs pytorch3d built for this torch "
                 "(see https://github.com/facebookresearch/pytorch3d/blob/main/INSTALL.md); "
                 "without it use the 'torch' backend (robosmplx_core.render.soft.SoftRasterizer)")


def _import_pytorch3d():
    """Return pytorch3d's ``(rasterize_meshes, Meshes)`` or raise ImportError with the fix."""
    try:
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.structures import Meshes
    except ImportError as err:
        raise ImportError(f"{_INSTALL_HINT} ({err})") from err
    return rasterize_meshes, Meshes


def pixels_to_ndc(verts_px: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, V, 3) OpenCV-centred pixels + depth -> (B, V, 3) pytorch3d NDC x, y + the same depth."""
    scale = 2.0 / min(height, width)
    x = (width - 1 - 2.0 * verts_px[..., 0]) * (scale / 2.0)
    y = (height - 1 - 2.0 * verts_px[..., 1]) * (scale / 2.0)
    return torch.stack([x, y, verts_px[..., 2]], dim=-1)


class Pytorch3DSoftRasterizer(SoftRasterizer):
    """:class:`SoftRasterizer` computed with pytorch3d; extra keyword ``faces_per_pixel`` (K)."""

    def __init__(self, *, faces_per_pixel: int = 64, **settings) -> None:
        super().__init__(**settings)
        self._rasterize_meshes, self._meshes = _import_pytorch3d()
        if faces_per_pixel <= 0:
            raise ValueError(f"faces_per_pixel: expected a positive count, got {faces_per_pixel}")
        self.faces_per_pixel = int(faces_per_pixel)

    def forward(self, verts_px: torch.Tensor, faces: torch.Tensor, face_labels: torch.Tensor | None = None,
                *, num_parts: int | None = None) -> SoftRaster:
        """Same contract as :meth:`SoftRasterizer.forward`."""
        check_mesh_inputs(verts_px, faces, face_labels, num_parts)
        batch, n_faces, (h, w) = verts_px.shape[0], faces.shape[0], (self.height, self.width)
        if batch == 0 or n_faces == 0:
            return SoftRasterizer.forward(self, verts_px, faces, face_labels, num_parts=num_parts)
        kept = [self._kept_faces(v, faces) for v in verts_px.detach()]  # per item, (F_b,) int64
        ndc = pixels_to_ndc(verts_px, h, w)
        meshes = self._meshes(verts=list(ndc), faces=[faces[k] for k in kept])
        px_per_ndc = min(h, w) / 2.0
        pix_to_face, zbuf, _, dists = self._rasterize_meshes(
            meshes, image_size=(h, w), blur_radius=(self.margin_px / px_per_ndc) ** 2,
            faces_per_pixel=self.faces_per_pixel, perspective_correct=True)  # each (B, H, W, K)
        hit = pix_to_face >= 0
        logit = -dists * px_per_ndc**2 / self.sigma  # pytorch3d: negative squared distance inside
        log_empty = torch.where(hit, nnf.logsigmoid(-logit), torch.zeros_like(logit))
        silhouette = 1.0 - torch.exp(log_empty.sum(-1))  # (B, H, W)
        if face_labels is None:
            return SoftRaster(silhouette=silhouette, part_probs=None)
        original = torch.cat(kept)[pix_to_face.clamp(min=0)]  # packed -> original face index
        z_norm = (self.far - zbuf) / (self.far - self.near)
        log_w = torch.where(hit, nnf.logsigmoid(logit) + z_norm / self.gamma, torch.full_like(logit, -1e30))
        weight = torch.softmax(log_w, dim=-1) * hit  # all-miss pixels: uniform, masked to 0
        fraction = torch.zeros(batch, h, w, int(num_parts), dtype=weight.dtype, device=weight.device)
        fraction = fraction.scatter_add(-1, face_labels[original], weight).permute(0, 3, 1, 2)
        return SoftRaster(silhouette=silhouette,
                          part_probs=torch.cat([1.0 - silhouette[:, None], fraction * silhouette[:, None]], dim=1))

    def _kept_faces(self, verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Indices (F_b,) of faces inside [near, far] (and front-facing when culling); ``verts`` (V, 3)."""
        tri = verts[faces]  # (F, 3, 3)
        keep = ((tri[..., 2] >= self.near) & (tri[..., 2] <= self.far)).all(dim=1)
        if self.cull_backfaces:
            e1, e2 = tri[:, 1, :2] - tri[:, 0, :2], tri[:, 2, :2] - tri[:, 0, :2]
            keep &= e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] < 0
        return keep.nonzero(as_tuple=True)[0]
