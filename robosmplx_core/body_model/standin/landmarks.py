"""Face landmarks of the stand-in, as smplx stores them: a face index and barycentric
coordinates per landmark.

The 51 static landmarks follow the 68-point iBUG order without the 17 contour points
(right brow 17-21, left brow 22-26, nose bridge 27-30, nostrils 31-35, right eye 36-41,
left eye 42-47, outer lips 48-59, inner lips 60-67); "right" is the person's right (-x), which
appears on the image left as in iBUG. The 17 contour (jawline) points are stored for all 79
yaw bins of smplx's dynamic-landmark table, the same faces in every bin.

Each landmark is where a ray toward the face hits the head surface. Units: metres.
"""

from __future__ import annotations

import numpy as np

from robosmplx_core.body_model.standin.head import FACE

NUM_STATIC = 51
NUM_CONTOUR = 17
NUM_YAW_BINS = 79


def _mirror_pairs(right: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Left-side counterparts of right-side (x < 0) points, in reversed order."""
    return [(-x, y) for x, y in reversed(right)]


def static_targets() -> np.ndarray:
    """Target (x, y) of the 51 static landmarks, ``(51, 2)`` metres, iBUG order 17..67."""
    f = FACE
    brow_r = [(-0.055, f.brow_y - 0.002), (-0.045, f.brow_y + 0.003), (-0.035, f.brow_y + 0.005),
              (-0.024, f.brow_y + 0.004), (-0.013, f.brow_y + 0.001)]
    bridge = [(0.0, y) for y in (f.eye_y, 0.317, 0.301, f.nose_tip_y + 0.002)]
    nostrils = [(-0.012, 0.278), (-0.006, 0.276), (0.0, f.subnasal_y + 0.001),
                (0.006, 0.276), (0.012, 0.278)]
    ex, ey = f.eye_x, f.eye_y
    eye_r = [(-ex - 0.014, ey), (-ex - 0.005, ey + 0.005), (-ex + 0.005, ey + 0.005),
             (-ex + 0.014, ey - 0.001), (-ex + 0.005, ey - 0.005), (-ex - 0.005, ey - 0.005)]
    eye_l = [(-x, y) for x, y in (eye_r[3], eye_r[2], eye_r[1], eye_r[0], eye_r[5], eye_r[4])]
    w, m = f.mouth_half_width, f.mouth_y
    upper = [(-w, m), (-0.016, m + 0.005), (-0.006, m + 0.008), (0.0, m + 0.007),
             (0.006, m + 0.008), (0.016, m + 0.005), (w, m)]
    lower = [(0.016, m - 0.007), (0.006, m - 0.010), (0.0, m - 0.010), (-0.006, m - 0.010),
             (-0.016, m - 0.007)]
    inner = [(-0.019, m), (-0.007, m + 0.0015), (0.0, m + 0.0015), (0.007, m + 0.0015),
             (0.019, m), (0.007, m - 0.0015), (0.0, m - 0.0015), (-0.007, m - 0.0015)]
    points = (brow_r + _mirror_pairs(brow_r) + bridge + nostrils + eye_r + eye_l + upper
              + lower + inner)
    return np.array(points, dtype=np.float64)


def contour_rays() -> tuple[np.ndarray, np.ndarray]:
    """Origins and directions ``(17, 3)`` of rays toward the jawline, from the person's right
    ear (point 0) down to the chin (8) and up to the left (16)."""
    t = np.linspace(-1.0, 1.0, NUM_CONTOUR)
    yaw = np.deg2rad(70.0) * t
    y = FACE.chin_y + (0.300 - FACE.chin_y) * np.abs(t) ** 1.6
    outward = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], axis=1)
    centre = np.stack([np.zeros_like(y), y, np.full_like(y, 0.01)], axis=1)
    return centre + 0.5 * outward, -outward


def ray_hits(origins: np.ndarray, dirs: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, ...]:
    """Nearest hit of each ray on a set of triangles (Moller-Trumbore).

    Args:
        origins, dirs: ``(L, 3)`` rays (metres; directions need not be unit).
        tris: ``(T, 3, 3)`` triangle corners.

    Returns:
        tri_idx ``(L,)`` index into ``tris``, bary ``(L, 3)`` barycentric weights of the
        hit with respect to the corners in order. Raises ``ValueError`` if a ray misses.
    """
    a, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    pvec = np.cross(dirs[:, None, :], e2[None])
    det = np.einsum("tk,ltk->lt", e1, pvec)
    det = np.where(np.abs(det) < 1e-15, np.nan, det)
    tvec = origins[:, None, :] - a[None]
    u = np.einsum("ltk,ltk->lt", tvec, pvec) / det
    qvec = np.cross(tvec, e1[None])
    v = np.einsum("lk,ltk->lt", dirs, qvec) / det
    dist = np.einsum("tk,ltk->lt", e2, qvec) / det
    ok = (u >= 0) & (v >= 0) & (u + v <= 1) & (dist > 0)
    dist = np.where(ok, dist, np.inf)
    best = np.argmin(dist, axis=1)
    rows = np.arange(len(origins))
    if not np.isfinite(dist[rows, best]).all():
        raise ValueError("stand-in landmark ray missed the head; check the face layout")
    uu, vv = u[rows, best], v[rows, best]
    return best, np.stack([1.0 - uu - vv, uu, vv], axis=1)


def face_landmarks(
    vertices: np.ndarray, faces: np.ndarray, head_faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Landmark faces and barycentric coordinates on the head.

    Args:
        vertices: ``(V, 3)`` rest vertices, metres.
        faces: ``(F, 3)`` all faces.
        head_faces: ``(H,)`` indices of the faces that belong to the head surface.

    Returns:
        lmk_faces_idx ``(51,)`` int64, lmk_bary_coords ``(51, 3)`` float32,
        dynamic_lmk_faces_idx ``(79, 17)`` int64, dynamic_lmk_bary_coords ``(79, 17, 3)``.
    """
    tris = vertices[faces[head_faces]]
    xy = static_targets()
    origins = np.concatenate([xy, np.full((len(xy), 1), 0.5)], axis=1)
    dirs = np.tile([0.0, 0.0, -1.0], (len(xy), 1))
    tri, bary = ray_hits(origins, dirs, tris)
    c_orig, c_dirs = contour_rays()
    c_tri, c_bary = ray_hits(c_orig, c_dirs, tris)
    bary, c_bary = _clean_bary(bary), _clean_bary(c_bary)
    dyn_idx = np.tile(head_faces[c_tri][None], (NUM_YAW_BINS, 1)).astype(np.int64)
    dyn_bary = np.tile(c_bary[None], (NUM_YAW_BINS, 1, 1)).astype(np.float32)
    return (head_faces[tri].astype(np.int64), bary.astype(np.float32), dyn_idx, dyn_bary)


def _clean_bary(bary: np.ndarray) -> np.ndarray:
    """Clip tiny negative rounding and renormalise rows to sum to 1, ``(L, 3)``."""
    bary = np.clip(bary, 0.0, None)
    return bary / bary.sum(axis=1, keepdims=True)
