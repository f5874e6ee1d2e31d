"""Joint regressor of the stand-in: every joint is a non-negative convex combination of the
vertices of the rings around it, so ``J_regressor @ v_template`` reproduces the skeleton and
joints follow the shape blend shapes.

Units: metres. V vertices, J = 55 joints.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from robosmplx_core.body_model.standin.assembly import Assembled

_POSITION_SCALE = 100.0  # residuals in centimetres
_SUM_WEIGHT = 10.0  # how strongly the weights are held to sum to one
_SPREAD_WEIGHT = 0.02  # pull toward uniform weights, so many vertices share each joint


def convex_weights(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Non-negative weights ``(k,)`` summing to 1 with ``weights @ points ~= target``.

    Regularised NNLS: minimise |s (P^T w - t)|^2 + a^2 (1^T w - 1)^2 + b^2 |w - 1/k|^2,
    w >= 0, which keeps the weights spread over the candidates.

    Args:
        points: ``(k, 3)`` candidate vertices, metres.
        target: ``(3,)`` joint position, metres.
    """
    k = len(points)
    a_mat = np.concatenate([
        _POSITION_SCALE * (points - target).T,
        _SUM_WEIGHT * np.ones((1, k)),
        _SPREAD_WEIGHT * np.eye(k),
    ])
    rhs = np.concatenate([np.zeros(3), [_SUM_WEIGHT], np.full(k, _SPREAD_WEIGHT / k)])
    weights, _ = nnls(a_mat, rhs, maxiter=50 * k)
    return weights / weights.sum()


def _candidates(asm: Assembled, joint_pos: np.ndarray) -> np.ndarray:
    """Global vertex indices of the rings nearest to ``joint_pos`` (3 consecutive rings of
    the primitive whose ring centre is closest to the joint)."""
    best = (np.inf, 0, 0)
    for p_idx, prim in enumerate(asm.primitives):
        dist = np.linalg.norm(prim.station_centres - joint_pos, axis=1)
        ring = int(np.argmin(dist))
        if dist[ring] < best[0]:
            best = (float(dist[ring]), p_idx, ring)
    _, p_idx, ring = best
    prim = asm.primitives[p_idx]
    lo, hi = max(ring - 1, 0), min(ring + 2, len(prim.rings))
    return prim.rings[lo:hi].ravel() + asm.offsets[p_idx]


def joint_regressor(asm: Assembled, joints: np.ndarray, tol_m: float = 1e-3) -> np.ndarray:
    """Regressor ``(55, V)``: rows non-negative, summing to 1.

    Args:
        asm: the assembled mesh (build order).
        joints: ``(55, 3)`` rest joint positions, metres.
        tol_m: the largest allowed reproduction error; raises ``ValueError`` beyond it.
    """
    regressor = np.zeros((len(joints), len(asm.vertices)))
    for j, pos in enumerate(joints):
        idx = _candidates(asm, pos)
        regressor[j, idx] = convex_weights(asm.vertices[idx], pos)
    error = np.linalg.norm(regressor @ asm.vertices - joints, axis=1)
    if error.max() > tol_m:
        raise ValueError(f"stand-in joint regressor misses joint {int(error.argmax())} by "
                         f"{error.max() * 1e3:.2f} mm (tolerance {tol_m * 1e3:.2f} mm)")
    return regressor
