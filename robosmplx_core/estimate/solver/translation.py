"""Camera-frame translation of a posed body by linear least squares (closed form).

For a point X (posed model, no translation) seen at pixel (u, v) with intrinsics rows
k0, k1, k2, the pinhole model ``u = k0.(X + T) / k2.(X + T)`` is linear in T:

    (k0 - u k2) . T = -(k0 - u k2) . X        and the same with (k1, v).

Each equation's residual is the pixel error times the point's depth, so a second pass divides
by the depth found in the first (pixel-error weighting). The metric size of the body (from
the model and the metric world landmarks) fixes the depth; no focal-length guess is involved.
"""

from __future__ import annotations

import numpy as np

from robosmplx_core.estimate.solver.linalg import pixel_rays, solve_spd

MIN_DEPTH_M = 0.1
FALLBACK_DEPTH_M = 3.0
_RIDGE = 1e-9 * np.eye(3)


def solve_translation(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray, K: np.ndarray,
                      *, passes: int = 2) -> np.ndarray:
    """Translation T (3,) minimising the weighted reprojection error of ``points + T``.

    Args:
        points: (N, 3) model points without translation, camera-frame axes, metres.
        pixels: (N, 2) observed pixels.
        weights: (N,) >= 0 (e.g. landmark visibility).
        K: (3, 3) intrinsics.
        passes: 1 = algebraic error, 2+ = re-weighted by 1 / depth (pixel error).

    Returns:
        T. If the solution would put a weighted point closer than 0.1 m (degenerate input) or
        fewer than 2 points have weight, ``fallback_translation`` (centroid 3 m ahead).
    """
    w = np.asarray(weights, np.float64)
    if np.count_nonzero(w > 0) < 2:
        return fallback_translation(points, pixels, w, K)
    rows = np.concatenate([K[0] - pixels[:, :1] * K[2], K[1] - pixels[:, 1:] * K[2]])  # (2N, 3)
    x2 = np.concatenate([points, points])
    rhs = -np.sum(rows * x2, 1)
    scale = np.concatenate([w, w])
    t = np.zeros(3)
    for _ in range(max(1, passes)):
        a = rows * scale[:, None]
        t = solve_spd(a.T @ rows + _RIDGE, a.T @ rhs)
        depth = x2[:, 2] + t[2]
        if depth[scale > 0].min() < MIN_DEPTH_M:
            break
        scale = np.concatenate([w, w]) / depth ** 2
    if (points[:, 2] + t[2])[w > 0].min() < MIN_DEPTH_M:  # degenerate input (e.g. all pixels equal)
        return fallback_translation(points, pixels, w, K)
    return t


def fallback_translation(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray, K: np.ndarray,
                         depth_m: float = FALLBACK_DEPTH_M) -> np.ndarray:
    """T (3,) putting the points' weighted centroid ``depth_m`` ahead on the ray of the pixels'."""
    w = np.maximum(np.asarray(weights, np.float64), 0) + 1e-12
    centre_px = np.average(pixels, axis=0, weights=w)
    ray = pixel_rays(centre_px[None], K)[0]
    return ray * depth_m - np.average(points, axis=0, weights=w)
