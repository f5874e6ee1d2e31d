"""Differentiable soft rasteriser (SoftRas, Liu et al. 2019) in pure torch, CPU or CUDA.

Renders silhouettes and per-part probabilities of triangle meshes for the Pixel Alignment
Module's projected-mask loss. No dense ``F x H x W`` tensor: each face only touches the pixels
of its bounding box grown by ``margin_px`` and, of those, only the ones within ``margin_px`` of
the triangle (farther out its coverage is below ``coverage_eps``; SoftRas drops them too). The
(face, pixel) pairs are enumerated ragged, evaluated vectorised and summed into the image with
``index_add``; cost grows with the summed window areas.

Conventions:
    - ``verts_px`` (B, V, 3): x, y in pixels with OpenCV integer pixel centres (the pixel at
      row r, column c has its centre at x = c, y = r), z = depth in metres along the optical
      axis (the camera looks along +z). ``geometry.perspective_projection`` puts the image
      centre at (W / 2, H / 2) (continuous pixels); subtract 0.5 from its u, v first.
    - coverage of face f at pixel p: ``D = sigmoid(s * d^2 / sigma)``, d the distance (px)
      from the pixel centre to the triangle, s = +1 inside, -1 outside, so D = 0.5 on an edge;
    - silhouette = ``1 - prod_f (1 - D_f)`` (evaluated as ``1 - exp(sum log(1 - D))``);
    - parts: ``w_f = D_f * exp(zn_f / gamma)``, zn = (far - z) / (far - near) the normalised
      reversed depth at the pixel (z interpolated perspective-correctly with barycentrics
      clamped to the triangle), so faces about ``gamma * (far - near)`` metres apart in depth
      share a pixel; ``part_probs[k + 1] = silhouette * sum_{f in part k} w_f /
      sum_f w_f`` and the background channel ``part_probs[0] = 1 - silhouette``. (SoftRas puts
      a constant background term inside the depth softmax instead; at gamma ~ 1e-4 that makes
      the background probability ~0 anywhere near a face and kills the boundary gradient of a
      segmentation loss, so the background here is the silhouette's complement.)
    - known SoftRas behaviour: within ``margin_px`` of a crease or an occluding edge the nearer
      face can win the depth softmax although it does not cover the pixel, and shared edges
      of coarse meshes dip below full coverage (1 - 0.5^2 on an edge between two faces).
    - back faces: front-facing triangles appear counter-clockwise in the image (negative signed
      area with x right, y down), which is the case for outward normals (SMPL-X) seen from
      outside. ``cull_backfaces=False`` (default) rasterises both sides; for a closed mesh the
      silhouette is the same and the depth softmax picks the nearer surface. ``True`` drops
      back faces (about half the work on a closed mesh).
    - faces with a vertex outside ``[near, far]`` are dropped (no clipping); degenerate (zero
      area) faces only contribute their outside (edge-distance) coverage.

Glossary: B batch, V vertices, F faces, P parts, H x W image, N (face, pixel) pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as nnf
import torch.utils.checkpoint
from torch import nn

from robosmplx_core.checks import check_finite, check_shape

__all__ = ["SoftRaster", "SoftRasterizer", "soft_rasterize", "check_mesh_inputs"]


@dataclass(frozen=True)
class SoftRaster:
    """Output of a soft rasteriser.

    Fields:
        silhouette: (B, H, W) soft coverage in [0, 1].
        part_probs: (B, P + 1, H, W) probabilities summing to 1 over dim 1; channel 0 is the
            background (= 1 - silhouette), channel k + 1 is part k; None without face labels.
    """

    silhouette: torch.Tensor
    part_probs: torch.Tensor | None


@dataclass(frozen=True)
class _Pairs:
    """Ragged (face, pixel) pairs: for each pair the face instance (index into the B * F
    flattened faces), the flat pixel index into B * H * W, and the pixel centre (x, y)."""

    face: torch.Tensor  # (N,) int64
    pixel: torch.Tensor  # (N,) int64
    xy: torch.Tensor  # (2, N) float


class SoftRasterizer(nn.Module):
    """SoftRas silhouettes and part probabilities; no parameters, settings fixed at build.

    Call with ``verts_px`` (B, V, 3), ``faces`` (F, 3) int64 and optionally ``face_labels``
    (F,) int64 in [0, num_parts) to get a :class:`SoftRaster`.
    """

    def __init__(
        self,
        *,
        height: int,
        width: int,
        sigma: float = 0.25,
        gamma: float = 1e-3,
        near: float = 0.1,
        far: float = 10.0,
        coverage_eps: float = 1e-3,
        margin_px: float | None = None,
        cull_backfaces: bool = False,
        chunk_pairs: int = 1 << 22,
    ) -> None:
        """Args:
            height, width: image size in pixels.
            sigma: edge blur in px^2 (0.25: coverage 0.27 half a pixel and 0.02 one pixel
                outside an edge). Smaller is sharper (closer to a hard rasteriser) with
                gradients over a narrower band.
            gamma: depth-softmax temperature on normalised depth (smaller = harder z-test;
                softness ``gamma * (far - near)`` metres, 1 cm by default); parts only.
            near, far: depth range in metres; keep it tight around the subject, since gamma
                acts on ``(far - z) / (far - near)``.
            coverage_eps: coverage below which a pixel is left out of a face's window; sets
                ``margin_px = sqrt(sigma * ln(1 / coverage_eps - 1))`` when that is None.
            margin_px: pixels added around each face's bounding box.
            cull_backfaces: drop faces seen from behind (see the module notes).
            chunk_pairs: (face, pixel) pairs evaluated at once; bounds peak memory, and with
                gradients each chunk is recomputed in backward (checkpointing) when there is
                more than one.
        """
        super().__init__()
        if height <= 0 or width <= 0:
            raise ValueError(f"height, width: expected positive image size, got {height} x {width}")
        if sigma <= 0 or gamma <= 0:
            raise ValueError(f"sigma, gamma: expected positive values, got sigma={sigma}, gamma={gamma}")
        if not 0 < near < far:
            raise ValueError(f"near, far: expected 0 < near < far (metres), got near={near}, far={far}")
        if not 0 < coverage_eps < 0.5:
            raise ValueError(f"coverage_eps: expected a value in (0, 0.5), got {coverage_eps}")
        if chunk_pairs <= 0:
            raise ValueError(f"chunk_pairs: expected a positive count, got {chunk_pairs}")
        self.height, self.width = int(height), int(width)
        self.sigma, self.gamma, self.near, self.far = float(sigma), float(gamma), float(near), float(far)
        if margin_px is None:
            margin_px = math.sqrt(sigma * math.log(1.0 / coverage_eps - 1.0))
        if margin_px < 0:
            raise ValueError(f"margin_px: expected >= 0 pixels, got {margin_px}")
        self.margin_px = float(margin_px)
        self.cull_backfaces = bool(cull_backfaces)
        self.chunk_pairs = int(chunk_pairs)

    def extra_repr(self) -> str:
        return (f"height={self.height}, width={self.width}, sigma={self.sigma}, gamma={self.gamma}, "
                f"near={self.near}, far={self.far}, margin_px={self.margin_px:.3f}, "
                f"cull_backfaces={self.cull_backfaces}")

    def forward(
        self,
        verts_px: torch.Tensor,
        faces: torch.Tensor,
        face_labels: torch.Tensor | None = None,
        *,
        num_parts: int | None = None,
    ) -> SoftRaster:
        """Rasterise a batch of meshes sharing one topology.

        Args:
            verts_px: (B, V, 3) float; x, y pixels (OpenCV centres), z depth in metres.
            faces: (F, 3) int64 vertex indices, on the device of ``verts_px``.
            face_labels: optional (F,) int64 part of each face, in [0, num_parts).
            num_parts: P, required with ``face_labels``.

        Returns:
            :class:`SoftRaster` with silhouette (B, H, W) and part_probs (B, P + 1, H, W) or None.
        """
        check_mesh_inputs(verts_px, faces, face_labels, num_parts)
        batch, n_faces = verts_px.shape[0], faces.shape[0]
        tri = verts_px[:, faces].reshape(batch * n_faces, 3, 3)  # (B*F, 3, 3)
        pairs = self._pairs(tri.detach(), n_faces)
        n_pix = batch * self.height * self.width
        with_parts = face_labels is not None
        table = _face_table(tri, self.near)
        log_empty, log_w = _chunked(_pair_terms, self.chunk_pairs, table, pairs, self._term_args(with_parts))
        log_bg = verts_px.new_zeros(n_pix).index_add(0, pairs.pixel, log_empty)  # log prod(1 - D)
        if pairs.face.numel() == 0:
            log_bg = log_bg + 0.0 * verts_px.sum()  # keep the graph connected when nothing is drawn
        silhouette = (1.0 - torch.exp(log_bg)).reshape(batch, self.height, self.width)
        if not with_parts:
            return SoftRaster(silhouette=silhouette, part_probs=None)
        fraction = _depth_softmax(log_w, pairs.pixel, face_labels[pairs.face % n_faces], n_pix, int(num_parts))
        parts = fraction.reshape(batch, self.height, self.width, int(num_parts)).permute(0, 3, 1, 2)
        probs = torch.cat([1.0 - silhouette[:, None], parts * silhouette[:, None]], dim=1)  # (B, P + 1, H, W)
        return SoftRaster(silhouette=silhouette, part_probs=probs)

    def _term_args(self, with_parts: bool) -> tuple[float, float, float, float, float, bool]:
        return (self.sigma, self.gamma, self.near, self.far, self.margin_px**2, with_parts)

    def _pairs(self, tri: torch.Tensor, n_faces: int) -> _Pairs:
        """Enumerate the pixels of every face's window. ``tri``: (B*F, 3, 3), no gradient."""
        xy, z = tri[..., :2], tri[..., 2]
        keep = ((z >= self.near) & (z <= self.far)).all(dim=1)
        if self.cull_backfaces:
            keep &= _cross(xy[:, 1] - xy[:, 0], xy[:, 2] - xy[:, 0]) < 0
        lo = torch.ceil(xy.amin(dim=1) - self.margin_px).clamp(min=0)  # (B*F, 2) first column, row
        hi = torch.floor(xy.amax(dim=1) + self.margin_px)
        hi = torch.minimum(hi, torch.tensor([self.width - 1, self.height - 1], dtype=hi.dtype, device=hi.device))
        size = (hi - lo + 1).clamp(min=0).to(torch.int64)  # (B*F, 2)
        count = torch.where(keep, size[:, 0] * size[:, 1], torch.zeros_like(size[:, 0]))
        face = torch.repeat_interleave(torch.arange(tri.shape[0], device=tri.device), count)
        local = torch.arange(face.numel(), device=tri.device) - (torch.cumsum(count, 0) - count)[face]
        w_f = size[face, 0]
        col = lo[face, 0].to(torch.int64) + local % w_f
        row = lo[face, 1].to(torch.int64) + torch.div(local, w_f, rounding_mode="floor")
        pixel = (face // n_faces) * (self.height * self.width) + row * self.width + col
        return _Pairs(face=face, pixel=pixel, xy=torch.stack([col, row]).to(tri.dtype))


def soft_rasterize(
    verts_px: torch.Tensor,
    faces: torch.Tensor,
    face_labels: torch.Tensor | None = None,
    *,
    height: int,
    width: int,
    num_parts: int | None = None,
    sigma: float = 0.25,
    gamma: float = 1e-3,
    near: float = 0.1,
    far: float = 10.0,
    cull_backfaces: bool = False,
) -> SoftRaster:
    """Function form of :class:`SoftRasterizer` (same arguments, shapes and output)."""
    rasterizer = SoftRasterizer(height=height, width=width, sigma=sigma, gamma=gamma, near=near, far=far,
                                cull_backfaces=cull_backfaces)
    return rasterizer(verts_px, faces, face_labels, num_parts=num_parts)


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """z of the 2D cross product, (..., 2) x (..., 2) -> (...)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _face_table(tri: torch.Tensor, near: float) -> torch.Tensor:
    """(9, B*F) per-face rows x0, x1, x2, y0, y1, y2, 1/z0, 1/z1, 1/z2 (``tri`` (B*F, 3, 3));
    rows keep the per-pair gathers contiguous. Depths are clamped to ``near`` (only dropped
    faces reach it) so that z <= 0 gives no inf and no NaN gradient."""
    return torch.cat([tri[..., 0].T, tri[..., 1].T, 1.0 / tri[..., 2].T.clamp(min=near)])


def _pair_terms(
    table: torch.Tensor, face: torch.Tensor, xy: torch.Tensor, args: tuple[float, float, float, float, float, bool]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pair: log(1 - D) (N,) and, with parts, the log depth-softmax weight
    ``log D + zn / gamma`` (N,) (empty otherwise). ``table`` (9, B*F) from :func:`_face_table`,
    ``face`` (N,) int64, ``xy`` (2, N) pixel centres. Pairs farther than the margin outside
    the triangle (bounding-box corners) are left out: log(1 - D) = 0 and weight -inf."""
    sigma, gamma, near, far, margin2, with_parts = args
    # unbind, not g[i]: each indexing op's backward would write a zero (9, N) gradient
    g = table[:9 if with_parts else 6].index_select(1, face).unbind(0)  # 6 or 9 rows of (N,)
    px, py = xy.unbind(0)
    dist2, side = None, []
    for i, j in ((0, 1), (1, 2), (2, 0)):  # edge i runs from vertex i to vertex j
        ex, ey = g[j] - g[i], g[3 + j] - g[3 + i]
        rx, ry = px - g[i], py - g[3 + i]
        t = ((rx * ex + ry * ey) / (ex * ex + ey * ey).clamp(min=1e-12)).clamp(0.0, 1.0)
        dx, dy = rx - t * ex, ry - t * ey
        d2 = dx * dx + dy * dy
        dist2 = d2 if dist2 is None else torch.minimum(dist2, d2)
        side.append(ex * ry - ey * rx)  # edge function: twice the area of (edge, pixel)
    a2 = side[0] + side[1] + side[2]  # twice the signed triangle area
    inside = (side[0] * a2 >= 0) & (side[1] * a2 >= 0) & (side[2] * a2 >= 0) & (a2 != 0)
    logit = torch.where(inside, dist2, -dist2) / sigma
    away = ~inside & (dist2 > margin2)
    log_empty = torch.where(away, torch.zeros_like(logit), nnf.logsigmoid(-logit))
    if not with_parts:
        return log_empty, log_empty.new_zeros(0)
    sign = a2.sign()
    b0, b1, b2 = ((s_ * sign).clamp(min=0) for s_ in (side[1], side[2], side[0]))
    inv_z = (b0 * g[6] + b1 * g[7] + b2 * g[8]) / (b0 + b1 + b2).clamp(min=1e-12)
    z_norm = (far - 1.0 / inv_z.clamp(min=1.0 / far)) / (far - near)
    log_w = torch.where(away, torch.full_like(logit, -torch.inf), nnf.logsigmoid(logit) + z_norm / gamma)
    return log_empty, log_w


def _chunked(
    fn: Callable[..., tuple[torch.Tensor, torch.Tensor]], chunk: int, table: torch.Tensor, pairs: _Pairs, args: tuple
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``fn(table, face, xy, args)`` over pairs in chunks and concatenate its two outputs;
    with gradients and several chunks, each chunk is checkpointed (recomputed in backward)."""
    n = pairs.face.numel()
    if n <= chunk:
        return fn(table, pairs.face, pairs.xy, args)
    recompute = torch.is_grad_enabled() and table.requires_grad
    outs = []
    for start in range(0, n, chunk):
        part = (table, pairs.face[start:start + chunk], pairs.xy[:, start:start + chunk], args)
        if recompute:
            outs.append(torch.utils.checkpoint.checkpoint(fn, *part, use_reentrant=False))
        else:
            outs.append(fn(*part))
    return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])


def _depth_softmax(
    log_w: torch.Tensor, pixel: torch.Tensor, labels: torch.Tensor, n_pix: int, num_parts: int
) -> torch.Tensor:
    """Per pixel and part, the share of depth-softmax weight: (n_pix, P), rows summing to 1
    where any face reaches the pixel and 0 elsewhere. ``log_w``, ``pixel``, ``labels``: (N,)."""
    peak = torch.full((n_pix,), -torch.inf, dtype=log_w.dtype, device=log_w.device)
    peak = peak.scatter_reduce(0, pixel, log_w.detach(), reduce="amax", include_self=True).clamp(min=-1e30)
    weight = torch.exp(log_w - peak[pixel])  # <= 1, the nearest-and-covering face gets 1; -inf gives 0
    total = torch.zeros(n_pix, dtype=log_w.dtype, device=log_w.device).index_add(0, pixel, weight)
    per_part = torch.zeros(n_pix * num_parts, dtype=log_w.dtype, device=log_w.device)
    per_part = per_part.index_add(0, pixel * num_parts + labels, weight).reshape(n_pix, num_parts)
    return per_part / total.clamp(min=1e-30)[:, None]


def check_mesh_inputs(
    verts_px: torch.Tensor, faces: torch.Tensor, face_labels: torch.Tensor | None, num_parts: int | None
) -> None:
    """Check the inputs of a soft rasteriser call (shapes as in :meth:`SoftRasterizer.forward`).

    Raises:
        ValueError: wrong shape, dtype or device, non-finite vertices, out-of-range vertex
            indices or labels, or labels without ``num_parts``; the message says how to fix it.
    """
    if not isinstance(verts_px, torch.Tensor) or not verts_px.is_floating_point():
        got = getattr(verts_px, "dtype", type(verts_px).__name__)
        raise ValueError(f"verts_px: expected a float torch.Tensor (B, V, 3), got {got}; "
                         "convert with torch.as_tensor(x).float()")
    if not isinstance(faces, torch.Tensor) or faces.dtype != torch.int64:
        got = getattr(faces, "dtype", type(faces).__name__)
        raise ValueError(f"faces: expected an int64 torch.Tensor (F, 3), got {got}; "
                         "use torch.as_tensor(faces, dtype=torch.int64)")
    dims = check_shape(verts_px, "B V 3", name="verts_px")
    check_shape(faces, "F 3", name="faces")
    check_finite(verts_px, name="verts_px")
    if faces.device != verts_px.device:
        raise ValueError(f"faces: on {faces.device} but verts_px on {verts_px.device}; "
                         "move faces with .to(verts_px.device)")
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= dims["V"]):
        raise ValueError(f"faces: vertex indices must lie in [0, {dims['V']}), got [{int(faces.min())}, "
                         f"{int(faces.max())}]; faces and verts_px must come from the same mesh")
    if face_labels is None:
        return
    if not isinstance(face_labels, torch.Tensor) or face_labels.dtype != torch.int64:
        raise ValueError("face_labels: expected an int64 torch.Tensor (F,); "
                         "use torch.as_tensor(labels, dtype=torch.int64)")
    check_shape(face_labels, "F", name="face_labels", dims={"F": faces.shape[0]})
    if num_parts is None or num_parts <= 0:
        raise ValueError(f"num_parts: expected a positive part count with face_labels, got {num_parts}")
    if face_labels.device != verts_px.device:
        raise ValueError(f"face_labels: on {face_labels.device} but verts_px on {verts_px.device}; "
                         "move them with .to(verts_px.device)")
    if face_labels.numel() and (int(face_labels.min()) < 0 or int(face_labels.max()) >= num_parts):
        raise ValueError(f"face_labels: expected values in [0, {num_parts}), got [{int(face_labels.min())}, "
                         f"{int(face_labels.max())}]; raise num_parts or fix the labels")
