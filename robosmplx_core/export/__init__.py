"""Exports of ``robosmplx predict`` results: the ``estimates.npz`` layout and BVH motion files.

    tracks = load_estimates("out/estimates.npz")                  # {track_id: TrackSequence}
    export_bvh_from_npz("out/estimates.npz", 3, "out/track3.bvh", BodyModel.load())
"""

from robosmplx_core.export.bvh import export_bvh, export_bvh_from_npz
from robosmplx_core.export.estimates_npz import EstimatesWriter, TrackSequence, load_estimates, load_track

__all__ = ["EstimatesWriter", "TrackSequence", "export_bvh", "export_bvh_from_npz", "load_estimates", "load_track"]
