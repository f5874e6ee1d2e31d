"""Small dense linear algebra kept on one thread.

numpy's OpenBLAS runs a matrix product on several threads once M*N*K exceeds ~262k (gemv:
M*N > ~9k). For the solver's tiny problems that buys nothing, and on a busy machine (the
landmark models run beside it) the woken worker thread then competes with the main thread:
measured here, a 47x47 ``np.linalg.solve`` after a threaded 160x47 Gram product took 1.9 ms
instead of 0.05 ms, and ``np.linalg.solve`` on a 47x47 system alone had a median of 4 ms
in some runs (its LAPACK back-substitution goes parallel). Worse, ``np.linalg.solve`` and
``np.linalg.inv`` wake OpenBLAS's worker thread even for a 3x3 matrix, which then spins on a
second core for a while: one call per solve kept a whole core busy. These helpers split
products into single-threaded pieces, solve the (symmetric positive definite) normal equations
with LAPACK's ``posv`` through scipy's thin wrapper (2-10 microseconds, steady), and invert
pinhole intrinsics in closed form. Nothing in the solver's per-call path may use
``np.linalg.solve``/``inv``/``lstsq``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

GEMM_SINGLE_THREAD_MNK = 200_000  # below OpenBLAS's 65536 * GEMM_MULTITHREAD_THRESHOLD (4)
GEMV_SINGLE_THREAD_MN = 9_000  # below OpenBLAS's 2304 * GEMM_MULTITHREAD_THRESHOLD (4)


def gram(a: np.ndarray) -> np.ndarray:
    """``a.T @ a`` (N, N) for a (M, N), summed over row blocks small enough for one thread."""
    rows = max(1, GEMM_SINGLE_THREAD_MNK // max(1, a.shape[1] ** 2))
    out = a[:rows].T @ a[:rows]
    for start in range(rows, a.shape[0], rows):
        out += a[start:start + rows].T @ a[start:start + rows]
    return out


def matmul_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2D a (M, K), b (K, N), in row blocks of a small enough for one thread."""
    rows = max(1, GEMM_SINGLE_THREAD_MNK // max(1, a.shape[1] * b.shape[1]))
    if a.shape[0] <= rows:
        return a @ b
    return np.concatenate([a[start:start + rows] @ b for start in range(0, a.shape[0], rows)])


def vecmat(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``x @ m`` (N,) for x (M,) and m (M, N), in column blocks small enough for one thread."""
    cols = max(1, GEMV_SINGLE_THREAD_MN // max(1, m.shape[0]))
    if m.shape[1] <= cols:
        return x @ m
    return np.concatenate([x @ m[:, start:start + cols] for start in range(0, m.shape[1], cols)])


def solve_spd(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """x (N,) with ``h @ x = g`` for symmetric positive definite h (N, N) (Cholesky; falls back
    to least squares when h is not numerically positive definite)."""
    _, x, info = lapack.dposv(h, g)
    if info != 0:  # not positive definite: regularise (a ridge of 1e-6 of the mean diagonal)
        ridge = 1e-6 * max(float(np.trace(h)) / len(h), 1e-12)
        _, x, info = lapack.dposv(h + ridge * np.eye(len(h)), g)
    return x if info == 0 else np.zeros_like(g)


def pixel_rays(pixels: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Rays (N, 3) with z = 1 through pixels (N, 2): ``K^-1 [u, v, 1]`` for pinhole intrinsics
    ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` (back substitution, no LAPACK call)."""
    y = (pixels[:, 1] - K[1, 2]) / K[1, 1]
    x = (pixels[:, 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
    return np.stack([x, y, np.ones_like(x)], 1)
