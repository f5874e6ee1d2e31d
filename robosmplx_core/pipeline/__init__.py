"""The real-time pipeline facade: ``Estimator.from_config(cfg)(frame) -> list[PersonEstimate]``."""

from robosmplx_core.pipeline.estimator import Estimator, StageTimings

__all__ = ["Estimator", "StageTimings"]
