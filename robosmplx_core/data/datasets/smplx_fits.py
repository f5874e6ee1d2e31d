"""NeuralAnnot SMPL-X pseudo ground truth (Moon et al., CVPRW 2022), as published.

NeuralAnnot releases one json per dataset (e.g. ``MSCOCO_train_SMPLX.json`` for COCO,
``Human36M_subject1_SMPLX_NeuralAnnot.json`` for Human3.6M), obtainable from the NeuralAnnot /
Hand4Whole release pages (github.com/mks0601/NeuralAnnot_RELEASE). For COCO it maps the COCO
annotation id (a string) to::

    {"smplx_param": {"root_pose": [3], "body_pose": [63], "lhand_pose": [45], "rhand_pose": [45],
                     "jaw_pose": [3], "shape": [10], "expr": [10], "trans": [3],
                     optional "lhand_valid", "rhand_valid", "face_valid": bool},
     "cam_param": {"focal": [fx, fy], "princpt": [cx, cy]}}

Rotations are axis-angle (radians), ``root_pose`` relative to the camera whose intrinsics are
``cam_param`` (full-image pixels) and ``trans`` the SMPL-X ``transl`` in that camera frame
(metres), so the fit projects onto the image through ``K``.

Hand poses: the fits were made with ``smplx.create(..., use_pca=False)``, whose default
``flat_hand_mean=False`` ADDS the model's mean hand pose (``hands_meanl`` / ``hands_meanr`` of
the SMPL-X file) to ``lhand_pose`` / ``rhand_pose``. ``BodyModel`` (``smplx.SMPLXLayer``) does
not, so :func:`parse_smplx_fit` adds ``hands_mean_axis_angle`` when given and otherwise marks
both hand poses invalid rather than supervise with the wrong pose.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robosmplx_core.data.datasets.common import PARAM_FIELDS, SampleError
from robosmplx_core.types import SMPLXParams

__all__ = ["SMPLX_FIT_SIZES", "HandsMean", "parse_smplx_fit", "parse_cam_param"]

SMPLX_FIT_SIZES: dict[str, int] = {
    "root_pose": 3, "body_pose": 63, "lhand_pose": 45, "rhand_pose": 45, "jaw_pose": 3, "shape": 10,
    "expr": 10, "trans": 3,
}  # fmt: skip
"""Length of each ``smplx_param`` entry of the published files."""

HandsMean = tuple[np.ndarray, np.ndarray]
"""(left (45,), right (45,)) axis-angle mean hand poses of the SMPL-X model file."""


def _vector(param: dict, key: str) -> np.ndarray:
    try:
        v = np.asarray(param[key], dtype=np.float64).reshape(-1)
    except (KeyError, TypeError, ValueError) as e:
        raise SampleError("malformed_smplx_fit", f"{key}: {e}") from e
    if v.shape != (SMPLX_FIT_SIZES[key],) or not np.isfinite(v).all():
        raise SampleError("malformed_smplx_fit", f"{key}: expected {SMPLX_FIT_SIZES[key]} finite values")
    return v


def parse_cam_param(cam: Any) -> np.ndarray:
    """(3, 3) K from ``{"focal": [fx, fy], "princpt": [cx, cy]}``; raises :class:`SampleError`."""
    try:
        f = np.asarray(cam["focal"], dtype=np.float64).reshape(2)
        c = np.asarray(cam["princpt"], dtype=np.float64).reshape(2)
    except (KeyError, TypeError, ValueError) as e:
        raise SampleError("malformed_cam_param", str(e)) from e
    if not (np.isfinite(f).all() and np.isfinite(c).all() and (f > 0).all()):
        raise SampleError("malformed_cam_param", f"focal {f}, princpt {c}")
    return np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])


def parse_smplx_fit(param: Any, *, hands_mean_axis_angle: HandsMean | None = None) -> tuple[SMPLXParams, np.ndarray]:
    """One ``smplx_param`` dict -> (SMPLXParams with B = 1, (10,) bool validity in ``PARAM_FIELDS``).

    Eye poses are not fitted (identity, invalid). Hand poses are valid only with
    ``hands_mean_axis_angle`` (see the module doc) and unless the fit says
    ``lhand_valid`` / ``rhand_valid`` false; ``face_valid`` false invalidates jaw and expression.

    Raises:
        SampleError: ``"malformed_smplx_fit"`` for a missing key or a wrong length.
    """
    if not isinstance(param, dict):
        raise SampleError("malformed_smplx_fit", f"expected a dict, got {type(param).__name__}")
    v = {k: _vector(param, k) for k in SMPLX_FIT_SIZES}
    lhand, rhand = v["lhand_pose"], v["rhand_pose"]
    if hands_mean_axis_angle is not None:
        lhand = lhand + np.asarray(hands_mean_axis_angle[0], dtype=np.float64).reshape(45)
        rhand = rhand + np.asarray(hands_mean_axis_angle[1], dtype=np.float64).reshape(45)
    params = SMPLXParams.from_axis_angle(
        global_orient=v["root_pose"][None], body_pose=v["body_pose"][None], left_hand_pose=lhand[None],
        right_hand_pose=rhand[None], jaw_pose=v["jaw_pose"][None], betas=v["shape"][None],
        expression=v["expr"][None], transl=v["trans"][None],
    )
    hands_ok = hands_mean_axis_angle is not None
    valid = {
        "global_orient": True, "body_pose": True, "betas": True, "transl": True, "leye_pose": False,
        "reye_pose": False, "left_hand_pose": hands_ok and bool(param.get("lhand_valid", True)),
        "right_hand_pose": hands_ok and bool(param.get("rhand_valid", True)),
        "jaw_pose": bool(param.get("face_valid", True)), "expression": bool(param.get("face_valid", True)),
    }  # fmt: skip
    return params, np.array([valid[name] for name in PARAM_FIELDS])
