"""Hard z-buffer rasteriser in torch (vectorised; no Python loop over faces).

Conventions:
    - ``verts_px[..., :2]`` are pixel coordinates in the OpenCV *integer-centre* convention:
      the pixel at row ``r``, column ``c`` is sampled at its centre ``(x, y) = (c, r)``;
    - ``verts_px[..., 2]`` is the camera depth ``z`` in metres (``> 0``); faces with a vertex at
      ``z <= 0`` are skipped (no near-plane clipping);
    - a pixel is covered by a face when its centre lies inside or on the edge of the projected
      triangle (both windings are rasterised, no back-face culling); the nearest face wins, ties
      go to the lowest face index (deterministic);
    - ``depth`` and ``bary`` are perspective-correct: with screen-space barycentrics ``w_i``,
      ``1 / depth = sum_i w_i / z_i`` and ``bary_i = (w_i / z_i) * depth``.

The package's projection (:func:`robosmplx_core.geometry.projection.perspective_projection`)
uses *continuous* pixel coordinates (pixel ``c`` spans ``[c, c + 1]``);
:func:`project_to_raster` converts camera-frame vertices to ``verts_px`` by subtracting that
half pixel, so a ``K`` built by ``intrinsics_from_fov`` lines up with the raster grid.

Algorithm: each face's bounding box of covered pixel centres is enumerated as a small window;
faces are grouped by window size (powers of two), every candidate pixel is tested with edge
functions in one batched pass per group, and the z-test is a single ``scatter_reduce(amin)``
over int64 keys ``(float32 depth bits << 32) | face index`` (positive float32 bit patterns are
ordered like the floats).

Glossary: B batch, V vertices, F faces, H x W image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry.projection import perspective_projection

__all__ = ["Raster", "rasterize", "project_to_raster"]

_MAX_CANDIDATES = 1 << 22
"""Largest number of (face, pixel) candidates tested in one batched pass (bounds memory)."""

_EDGE_EPS = 1e-9
"""Tolerance on normalised barycentrics: pixel centres on an edge count as inside."""

_AREA_EPS = 1e-9
"""Faces whose doubled screen area is below this (pixels^2) are degenerate and skipped."""


@dataclass(frozen=True)
class Raster:
    """Result of :func:`rasterize`.

    Fields:
        face_index: (B, H, W) int64 index of the visible face, ``-1`` for background.
        depth: (B, H, W) float camera depth (metres) of the visible surface, ``+inf`` for
            background.
        bary: (B, H, W, 3) float perspective-correct barycentric weights of the visible face's
            three vertices (sum to 1), zeros for background.
    """

    face_index: torch.Tensor
    depth: torch.Tensor
    bary: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) bool: pixels covered by the mesh."""
        return self.face_index >= 0


def project_to_raster(verts_cam: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Project camera-frame vertices to the ``verts_px`` input of :func:`rasterize`.

    Args:
        verts_cam: (B, V, 3) vertices in the camera optical frame (metres).
        K: (3, 3) or (B, 3, 3) intrinsics in the package's continuous pixel convention.

    Returns:
        (B, V, 3): ``x, y`` = projected pixels minus 0.5 (integer-centre convention), ``z`` =
        the camera depth in metres, unchanged.
    """
    check_shape(verts_cam, "B V 3", name="verts_cam")
    uv = perspective_projection(verts_cam, K) - 0.5
    return torch.cat([uv, verts_cam[..., 2:3]], dim=-1)


def _check_inputs(verts_px: torch.Tensor, faces: torch.Tensor, height: int, width: int) -> None:
    if not isinstance(verts_px, torch.Tensor) or not verts_px.is_floating_point():
        raise ValueError("verts_px: expected a floating-point torch.Tensor of shape (B, V, 3); "
                         "convert with torch.as_tensor(x, dtype=torch.float32)")
    dims = check_shape(verts_px, "B V 3", name="verts_px")
    if not isinstance(faces, torch.Tensor) or faces.dtype not in (torch.int64, torch.int32):
        raise ValueError("faces: expected an int64 torch.Tensor of shape (F, 3); "
                         "convert with torch.as_tensor(faces, dtype=torch.int64)")
    check_shape(faces, "F 3", name="faces")
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= dims["V"]):
        raise ValueError(f"faces: vertex indices must lie in [0, {dims['V']}) for V={dims['V']} "
                         f"vertices, got range [{int(faces.min())}, {int(faces.max())}]")
    if int(height) <= 0 or int(width) <= 0:
        raise ValueError(f"height, width: expected positive image sizes, got {height}x{width}")


def _face_windows(tri: torch.Tensor, height: int, width: int, cull: bool) -> tuple[torch.Tensor, ...]:
    """Per-face pixel windows. tri: (N, 3, 3) -> x0, y0, wx, wy (N,) int64 and valid (N,) bool
    (covers a pixel centre, in front of the camera, not degenerate, front-facing if ``cull``)."""
    xy = tri[..., :2]
    lo = xy.amin(dim=1).ceil().clamp(min=0)
    hi = xy.amax(dim=1).floor()
    hi = torch.minimum(hi, torch.tensor([width - 1, height - 1], dtype=tri.dtype))
    size = (hi - lo + 1).clamp(min=0)
    e1, e2 = xy[:, 1] - xy[:, 0], xy[:, 2] - xy[:, 0]
    area2 = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    valid = (size > 0).all(dim=1) & (tri[..., 2] > 0).all(dim=1)
    valid &= (area2 < -_AREA_EPS) if cull else (area2.abs() > _AREA_EPS)
    valid &= torch.isfinite(tri).view(-1, 9).all(dim=1)
    lo, size = lo.nan_to_num(0).long(), size.nan_to_num(0).long()
    return lo[:, 0], lo[:, 1], size[:, 0], size[:, 1], valid


def _plane_coefficients(tri: torch.Tensor) -> torch.Tensor:
    """(N, 4, 3) affine functions ``A x + B y + C`` of the pixel centre, per face: the three
    screen-space barycentrics (normalised by the signed area, so >= 0 inside for either
    winding) and ``1 / z`` (perspective-correct inverse depth). Computed in float64."""
    t = tri.double()
    x, y, z = t[..., 0], t[..., 1], t[..., 2]  # (N, 3)
    xb, yb, xc, yc = x.roll(-1, dims=1), y.roll(-1, dims=1), x.roll(-2, dims=1), y.roll(-2, dims=1)
    coef = torch.stack([yb - yc, xc - xb, xb * yc - yb * xc], dim=-1)  # (N, 3 edges, 3)
    area = coef[..., 2].sum(dim=1)
    area = torch.where(area == 0, torch.ones_like(area), area)
    coef = coef / area[:, None, None]
    inv_z = (coef / z[..., None]).sum(dim=1, keepdim=True)
    return torch.cat([coef, inv_z], dim=1)


def _test_group(coef: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor, wx: torch.Tensor,
                wy: torch.Tensor, side: int) -> tuple[torch.Tensor, ...]:
    """Dense test of ``side x side`` windows of faces with plane coefficients ``coef``
    (n, 4, 3). Returns (row, col, face slot, inverse depth) of covered candidates (1-D)."""
    n = coef.shape[0]
    ar = torch.arange(side)
    px = (x0[:, None] + ar[None]).to(coef.dtype).view(n, 1, side)
    py = (y0[:, None] + ar[None]).to(coef.dtype).view(n, side, 1)
    inside = (ar.view(1, 1, side) < wx.view(n, 1, 1)) & (ar.view(1, side, 1) < wy.view(n, 1, 1))
    a, b, c = (coef[..., i, None, None] for i in range(3))  # each (n, 4, 1, 1)
    for k in range(3):
        inside &= (a[:, k] * px + b[:, k] * py + c[:, k]) >= -_EDGE_EPS
    slot, iy, ix = inside.nonzero(as_tuple=True)
    inv_z = a[slot, 3, 0, 0] * px[slot, 0, ix] + b[slot, 3, 0, 0] * py[slot, iy, 0] + c[slot, 3, 0, 0]
    return y0[slot] + iy, x0[slot] + ix, slot, inv_z


def _candidates(tri: torch.Tensor, height: int, width: int, cull: bool) -> tuple[torch.Tensor, ...]:
    """All covered (flat pixel, face index, depth) candidates of faces ``tri`` (N, 3, 3), and
    the (N, 4, 3) plane coefficients (zeros for faces that cover no pixel)."""
    x0, y0, wx, wy, valid = _face_windows(tri, height, width, cull)
    ids = valid.nonzero(as_tuple=True)[0]
    coef = torch.zeros(tri.shape[0], 4, 3, dtype=torch.float64)
    coef[ids] = _plane_coefficients(tri[ids])
    side = torch.maximum(wx[ids], wy[ids])
    bucket = torch.ceil(torch.log2(side.to(torch.float64).clamp(min=1))).long()
    pix, faces, depths = [], [], []
    for level in torch.unique(bucket).tolist():  # a handful of size groups, never per face
        group = ids[bucket == level]
        s = 1 << int(level)
        step = max(1, _MAX_CANDIDATES // (s * s))
        for start in range(0, group.numel(), step):
            g = group[start:start + step]
            r, c, k, inv_z = _test_group(coef[g], x0[g], y0[g], wx[g], wy[g], s)
            pix.append(r * width + c)
            faces.append(g[k])
            depths.append(1.0 / inv_z)
    if not pix:
        empty = torch.empty(0, dtype=torch.int64)
        return empty, empty, torch.empty(0, dtype=torch.float64), coef
    return torch.cat(pix), torch.cat(faces), torch.cat(depths), coef


def rasterize(verts_px: torch.Tensor, faces: torch.Tensor, height: int, width: int, *,
              cull_backfaces: bool = False) -> Raster:
    """Rasterise triangle meshes with a hard z-buffer.

    Args:
        verts_px: (B, V, 3) float; ``x, y`` pixels (pixel ``(r, c)`` centred at ``x=c, y=r``),
            ``z`` camera depth in metres (``> 0``). Use :func:`project_to_raster` to build it.
        faces: (F, 3) int64 vertex indices, shared by the batch.
        height, width: output size H x W in pixels.
        cull_backfaces: skip faces seen from behind, i.e. whose projected corners ``a, b, c``
            turn clockwise on screen (x right, y down): for a consistently wound closed mesh
            (outward normals ``(b - a) x (c - a)``, as SMPL-X) the image is the same, about
            twice as fast.

    Returns:
        :class:`Raster` with ``face_index`` (B, H, W) int64 (``-1`` background), ``depth``
        (B, H, W) (``+inf`` background) and perspective-correct ``bary`` (B, H, W, 3).

    Raises:
        ValueError: wrong shapes/dtypes, out-of-range face indices or a non-positive size.
    """
    _check_inputs(verts_px, faces, height, width)
    height, width = int(height), int(width)
    device, dtype = verts_px.device, verts_px.dtype
    v = verts_px.detach().to("cpu")
    f = faces.to(device="cpu", dtype=torch.int64)
    b, hw = v.shape[0], height * width
    face_index = torch.full((b, hw), -1, dtype=torch.int64)
    depth = torch.full((b, hw), float("inf"), dtype=dtype)
    bary = torch.zeros(b, hw, 3, dtype=dtype)
    for i in range(b):  # batch loop only; faces are vectorised
        tri = v[i][f]  # (F, 3, 3)
        pix, face, z, coef = _candidates(tri, height, width, cull_backfaces)
        if pix.numel() == 0:
            continue
        z32 = z.to(torch.float32).clamp(min=1e-30)
        key = (z32.view(torch.int32).to(torch.int64) << 32) | face
        best = torch.full((hw,), torch.iinfo(torch.int64).max, dtype=torch.int64)
        best.scatter_reduce_(0, pix, key, reduce="amin")
        hit = best != torch.iinfo(torch.int64).max
        win = (best & 0xFFFFFFFF)[hit]
        face_index[i, hit] = win
        pix_hit = hit.nonzero(as_tuple=True)[0]
        z_hit, bary_hit = _interpolate(coef[win], tri[win, :, 2], pix_hit, width)
        depth[i, pix_hit], bary[i, pix_hit] = z_hit.to(dtype), bary_hit.to(dtype)
    return Raster(
        face_index=face_index.view(b, height, width).to(device),
        depth=depth.view(b, height, width).to(device),
        bary=bary.view(b, height, width, 3).to(device),
    )


def _interpolate(coef: torch.Tensor, z: torch.Tensor, pix: torch.Tensor, width: int) -> tuple[torch.Tensor, ...]:
    """Perspective-correct depth (M,) and barycentrics (M, 3) at flat pixels ``pix`` (M,) of
    the winning faces' plane coefficients ``coef`` (M, 4, 3) and vertex depths ``z`` (M, 3)."""
    px = (pix % width).to(coef.dtype)
    py = torch.div(pix, width, rounding_mode="floor").to(coef.dtype)
    w = coef[:, :3, 0] * px[:, None] + coef[:, :3, 1] * py[:, None] + coef[:, :3, 2]  # (M, 3)
    w = w.clamp(min=0.0)
    wz = w / z.to(coef.dtype)
    inv_z = wz.sum(dim=-1, keepdim=True)
    return (1.0 / inv_z).squeeze(-1), wz / inv_z
