"""`estimates.jsonl`: one JSON line per input frame (persons may be empty; skipped frames say why).

Per person: track_id, box_xyxy, score, betas, global_orient (3), body_pose (21x3),
left_hand_pose / right_hand_pose (15x3), jaw_pose, leye_pose, reye_pose (3 each), expression,
transl (metres, camera frame), joints2d (127x2 pixels), confidence {body, left_hand,
right_hand, face}. Rotations are axis-angle in radians.
"""

from __future__ import annotations

import json
from typing import IO, Optional

import numpy as np

from robosmplx_core.types import ROTATION_FIELDS, PersonEstimate

DECIMALS = 5


def _rounded(a, decimals: int = DECIMALS):
    return np.round(np.asarray(a, np.float64), decimals).tolist()


def person_record(p: PersonEstimate) -> dict:
    """The JSON-ready dict of one person (keys listed in the module docstring)."""
    rec: dict = {"track_id": int(p.track_id), "box_xyxy": _rounded(p.box_xyxy, 2), "score": round(float(p.score), 4),
                 "betas": _rounded(p.params.betas[0])}
    for name in ROTATION_FIELDS:
        rec[name] = _rounded(p.params.axis_angle(name)[0])
    rec["expression"] = _rounded(p.params.expression[0])
    rec["transl"] = _rounded(p.params.transl[0])
    rec["joints2d"] = _rounded(p.joints2d, 2)
    c = p.confidence
    rec["confidence"] = {"body": round(c.body, 4), "left_hand": round(c.left_hand, 4),
                         "right_hand": round(c.right_hand, 4), "face": round(c.face, 4)}
    return rec


def write_frame_line(fh: IO[str], frame: int, stamp_s: float, persons: list[PersonEstimate],
                     skipped: Optional[str] = None) -> None:
    """Append one frame's line."""
    line: dict = {"frame": int(frame), "stamp": round(float(stamp_s), 6),
                  "persons": [person_record(p) for p in persons]}
    if skipped:
        line["skipped"] = skipped
    fh.write(json.dumps(line, separators=(",", ":")) + "\n")
