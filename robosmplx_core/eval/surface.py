"""Surface metrics: F-score at distance thresholds (FreiHAND) and 3D RMSE (face benchmarks).

Both compare point sets (mesh vertices or scan points), inputs in metres, distances in mm, and
by default first move the prediction onto the GT with Procrustes (similarity transform fitted on
corresponding points, ``robosmplx_core.eval.align``), as FreiHAND aligns its meshes.

F-score (Knapitsch et al. 2017, as used by FreiHAND, Zimmermann et al. 2019), per sample and
threshold ``th``:
    precision = fraction of predicted points whose nearest GT point is closer than th
    recall    = fraction of GT points whose nearest predicted point is closer than th
    F = 2 P R / (P + R), and F = 0 when P + R = 0.
Distances are nearest-neighbour (not correspondence) distances and the comparison is strict
(``d < th``), as in FreiHAND's ``calculate_fscore``. FreiHAND's code names the two fractions the
other way round; F is symmetric, so the F-score is the same.

3D RMSE (``rmse_3d_mm``), the error of the Stirling/ESRC (Feng et al. 2018) and NoW (Sanyal et
al. 2019) face benchmarks, implemented here as:
    d_i = distance from GT point i to its nearest predicted point (after alignment)
    RMSE = sqrt(mean_i d_i^2)
The benchmarks measure GT-scan-to-predicted-*surface* distance (point to triangle); this
point-to-vertex distance is an upper bound of it, close for dense meshes. With
``nearest=False`` the distance is to the corresponding point instead (same vertex index), the
usual choice when the GT is itself a mesh of the same topology.

Batch rules: an empty batch gives empty results. Results are the kind of ``pred_points``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree

from robosmplx_core.eval._arrays import M_TO_MM, ArrayLike, check_points, like
from robosmplx_core.eval.align import fit_similarity_f64

__all__ = ["FScore", "fscore", "nearest_distances_mm", "rmse_3d_mm"]


@dataclass(frozen=True)
class FScore:
    """F-scores of a batch at several thresholds.

    Fields:
        thresholds_mm: (T,) thresholds in mm.
        fscore: (B, T) F-scores in [0, 1].
        precision: (B, T) fraction of predicted points within the threshold of the GT.
        recall: (B, T) fraction of GT points within the threshold of the prediction.
    """

    thresholds_mm: tuple[float, ...]
    fscore: ArrayLike
    precision: ArrayLike
    recall: ArrayLike

    def as_dict(self) -> dict[str, ArrayLike]:
        """Per-threshold (B,) columns named ``fscore_5mm``, ``precision_5mm``, ``recall_5mm``, ..."""
        out = {}
        for k, th in enumerate(self.thresholds_mm):
            tag = f"{th:g}mm"
            out[f"fscore_{tag}"] = self.fscore[:, k]
            out[f"precision_{tag}"] = self.precision[:, k]
            out[f"recall_{tag}"] = self.recall[:, k]
        return out


def _prepare(pred_points, gt_points, procrustes: bool) -> tuple[np.ndarray, np.ndarray]:
    p, bound = check_points(pred_points, "B N 3", name="pred_points")
    g, _ = check_points(gt_points, "B M 3", name="gt_points", dims={"B": bound["B"]})
    if p.shape[1] == 0 or g.shape[1] == 0:
        raise ValueError(
            f"pred_points / gt_points: need at least one point each, got {p.shape} and {g.shape}"
        )
    if procrustes:
        if p.shape != g.shape:
            raise ValueError(
                f"procrustes=True needs corresponding points (same N), got pred {p.shape} and gt "
                f"{g.shape}; align beforehand and pass procrustes=False"
            )
        p = fit_similarity_f64(p, g, np.ones(p.shape[:2])).apply(p)
    return p, g


def _nearest_mm(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(B, N) distance in mm from each source point to its nearest target point (float64)."""
    out = np.empty(source.shape[:2], dtype=np.float64)
    for b in range(source.shape[0]):
        out[b] = cKDTree(target[b]).query(source[b], k=1)[0]
    return out * M_TO_MM


def nearest_distances_mm(source_points: ArrayLike, target_points: ArrayLike) -> ArrayLike:
    """Distance from each source point to its nearest target point, in mm (no alignment).

    Args:
        source_points: (B, N, 3) points, metres.
        target_points: (B, M, 3) points, metres (M >= 1).

    Returns:
        (B, N) distances in mm, the kind of ``source_points``.
    """
    s, bound = check_points(source_points, "B N 3", name="source_points")
    t, _ = check_points(target_points, "B M 3", name="target_points", dims={"B": bound["B"]})
    if t.shape[1] == 0:
        raise ValueError("target_points: need at least one point per sample (M >= 1)")
    return like(_nearest_mm(s, t), source_points)


def fscore(
    pred_points: ArrayLike,
    gt_points: ArrayLike,
    *,
    thresholds_mm: Sequence[float] = (5.0, 15.0),
    procrustes: bool = True,
) -> FScore:
    """F-score of predicted vs GT points at each threshold (FreiHAND protocol by default).

    Args:
        pred_points: (B, N, 3) predicted points (e.g. hand mesh vertices), metres.
        gt_points: (B, M, 3) GT points, metres; M = N when ``procrustes`` is True.
        thresholds_mm: (T,) distance thresholds in mm (FreiHAND reports 5 and 15).
        procrustes: align the prediction to the GT by a similarity transform first.

    Returns:
        ``FScore`` with (B, T) fscore, precision and recall, the kind of ``pred_points``.

    Raises:
        ValueError: bad shapes, NaN/inf, no points, non-positive thresholds.
    """
    ths = tuple(float(t) for t in thresholds_mm)
    if not ths or min(ths) <= 0 or not np.isfinite(ths).all():
        raise ValueError(
            f"thresholds_mm: expected positive finite thresholds in mm, e.g. (5.0, 15.0), got {ths}"
        )
    p, g = _prepare(pred_points, gt_points, procrustes)
    th = np.asarray(ths)
    precision = (_nearest_mm(p, g)[:, :, None] < th).mean(axis=1)  # (B, T)
    recall = (_nearest_mm(g, p)[:, :, None] < th).mean(axis=1)
    denom = precision + recall
    f = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1.0), 0.0)
    return FScore(
        thresholds_mm=ths,
        fscore=like(f, pred_points),
        precision=like(precision, pred_points),
        recall=like(recall, pred_points),
    )


def rmse_3d_mm(
    pred_points: ArrayLike, gt_points: ArrayLike, *, procrustes: bool = True, nearest: bool = True
) -> ArrayLike:
    """3D RMSE in mm between GT and predicted points (definition in the module docstring).

    Args:
        pred_points: (B, N, 3) predicted face points (e.g. face mesh vertices), metres.
        gt_points: (B, M, 3) GT points (scan or mesh), metres; M may differ from N only when
            ``procrustes`` is False and ``nearest`` is True.
        procrustes: align the prediction to the GT by a similarity transform first (needs
            corresponding points, M = N).
        nearest: distance from each GT point to its nearest predicted point (True), or to the
            predicted point of the same index (False, needs M = N).

    Returns:
        (B,) RMSE in mm, the kind of ``pred_points``.

    Raises:
        ValueError: bad shapes, NaN/inf, no points; M != N where correspondence is needed.
    """
    p, g = _prepare(pred_points, gt_points, procrustes)
    if nearest:
        dist = _nearest_mm(g, p)
    else:
        if p.shape != g.shape:
            raise ValueError(
                f"nearest=False needs corresponding points (same N), got {p.shape} and {g.shape}"
            )
        dist = np.linalg.norm(p - g, axis=-1) * M_TO_MM
    return like(np.sqrt((dist**2).mean(axis=1)), pred_points)
