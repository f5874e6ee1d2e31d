"""Evaluation metrics of RoboSMPLX: pure functions on batches, plus a dataset accumulator.

Metrics (each module's docstring gives the exact definition):
    - ``errors``: MPJPE, PA-MPJPE, PVE, PA-PVE (root or Procrustes alignment, per-joint weights).
    - ``parts``: the same for one part, hands aligned at the wrist and the face at the neck;
      ``wholebody``: all / body / hands / face in one call (``WHOLEBODY137_PARTS``).
    - ``surface``: F-score at thresholds (FreiHAND: 5 and 15 mm) and 3D RMSE (face benchmarks).
    - ``temporal``: acceleration and acceleration error (HMMR / VIBE).
    - ``align``: root alignment and Procrustes (similarity transform, reflection excluded).
    - ``accumulator``: ``MetricAccumulator`` (``update()`` per batch, ``summary()`` at the end).

Conventions shared by all of them:
    - Units: inputs in metres; every result named ``*_mm`` is in millimetres (mm/frame^2 for
      the acceleration metrics); F-scores, precision and recall are fractions in [0, 1].
    - Shapes: B batch, J joints, V vertices, N / M points, T frames or thresholds, K part size.
      Functions return one value per sample, (B,), so datasets are averaged per sample.
    - Array kinds: numpy or torch in; the result is the kind of the first (``pred_*``) input: a
      tensor of its float dtype and device, or a float64 numpy array. Computation runs in
      float64 numpy on the CPU and carries no gradient (evaluation only).
    - Weights: optional (B, J) / (B, V) per-element weights (bool, int or float, >= 0); 0 drops
      a joint from alignment fits and from the mean, other values weight it.
    - NaN means "no value": a sample with no weighted element gives NaN and the accumulator
      counts it as skipped. NaN/inf *inputs* and bad shapes raise ``ValueError`` naming the
      argument; an empty batch (B = 0) gives empty results, never NaN.
"""

from robosmplx_core.eval.accumulator import MetricAccumulator, MetricSummary
from robosmplx_core.eval.align import (
    SimilarityTransform,
    fit_similarity,
    procrustes_align,
    root_align,
    root_points,
)
from robosmplx_core.eval.errors import mpjpe_mm, pa_mpjpe_mm, pa_pve_mm, pve_mm
from robosmplx_core.eval.parts import (
    PartSpec,
    mean_of_hands,
    part_mpjpe_mm,
    part_pa_mpjpe_mm,
    part_pa_pve_mm,
    part_pve_mm,
)
from robosmplx_core.eval.surface import FScore, fscore, nearest_distances_mm, rmse_3d_mm
from robosmplx_core.eval.temporal import accel_error_mm, accel_mm
from robosmplx_core.eval.wholebody import (
    WHOLEBODY137_PARTS,
    WholeBodyErrors,
    WholeBodyParts,
    wholebody_errors_mm,
)

__all__ = [
    "FScore",
    "MetricAccumulator",
    "MetricSummary",
    "PartSpec",
    "SimilarityTransform",
    "WHOLEBODY137_PARTS",
    "WholeBodyErrors",
    "WholeBodyParts",
    "accel_error_mm",
    "accel_mm",
    "fit_similarity",
    "fscore",
    "mean_of_hands",
    "mpjpe_mm",
    "nearest_distances_mm",
    "pa_mpjpe_mm",
    "pa_pve_mm",
    "part_mpjpe_mm",
    "part_pa_mpjpe_mm",
    "part_pa_pve_mm",
    "part_pve_mm",
    "procrustes_align",
    "pve_mm",
    "rmse_3d_mm",
    "root_align",
    "root_points",
    "wholebody_errors_mm",
]
