"""Per-track temporal smoothing: One Euro filters on vectors and on SO(3), driven by stamps.

    stage = SmoothingStage.from_config(cfg.smoothing)
    persons = stage(persons, frame.stamp_s)     # list[PersonEstimate] -> list[PersonEstimate]
    stage.drop(dead_track_ids)

Rotations are filtered on SO(3) (never per Euler/axis-angle channel); see :mod:`.so3`.
"""

from robosmplx_core.smoothing.one_euro import OneEuroFilter, smoothing_alpha
from robosmplx_core.smoothing.person import PersonSmoother, SmoothingStage
from robosmplx_core.smoothing.so3 import SO3OneEuroFilter

__all__ = ["OneEuroFilter", "PersonSmoother", "SO3OneEuroFilter", "SmoothingStage", "smoothing_alpha"]
