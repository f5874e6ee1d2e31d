"""Pure conversions between robosmplx_core records and ROS messages (no node needed).

Axis-angle rotations (radians) go into the messages, rotation matrices stay in the core;
every 3D field is in the camera optical frame (the header's frame_id).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import Header

from robosmplx.msg import SMPLXPerson, SMPLXPersonArray
from robosmplx_core.types import PartConfidence, PersonEstimate, SMPLXParams

_FLAT_ROTATIONS = ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose",
                   "jaw_pose", "leye_pose", "reye_pose")


def _f32(value: float) -> float:
    """Round to float32 now, so a message equals itself after serialisation."""
    return float(np.float32(value))


def stamp_to_msg(stamp_s: float) -> Time:
    """Seconds (float) -> builtin_interfaces/Time, rounding to the nearest nanosecond."""
    sec = math.floor(stamp_s)
    nanosec = int(round((stamp_s - sec) * 1e9))  # split first: stamp_s * 1e9 loses ~100 ns
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=int(sec), nanosec=nanosec)


def stamp_from_msg(stamp: Time) -> float:
    """builtin_interfaces/Time -> seconds (float)."""
    return stamp.sec + stamp.nanosec * 1e-9


def person_to_msg(est: PersonEstimate) -> SMPLXPerson:
    """One :class:`PersonEstimate` -> ``robosmplx/msg/SMPLXPerson``."""
    p = est.params
    msg = SMPLXPerson(track_id=int(est.track_id), score=_f32(est.score),
                      box_xyxy=est.box_xyxy.astype(np.float32))
    for name in _FLAT_ROTATIONS:
        setattr(msg, name, p.axis_angle(name)[0].reshape(-1).detach().cpu().numpy().astype(np.float32))
    msg.betas = p.betas[0].detach().cpu().numpy().astype(np.float32).tolist()
    msg.expression = p.expression[0].detach().cpu().numpy().astype(np.float32).tolist()
    t = p.transl[0].detach().cpu().double().tolist()
    msg.transl = Vector3(x=t[0], y=t[1], z=t[2])
    msg.joints3d = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in est.joints3d.astype(np.float64)]
    msg.joints2d = est.joints2d.reshape(-1).astype(np.float32).tolist()
    c = est.confidence
    msg.body_confidence, msg.left_hand_confidence = _f32(c.body), _f32(c.left_hand)
    msg.right_hand_confidence, msg.face_confidence = _f32(c.right_hand), _f32(c.face)
    return msg


def person_from_msg(msg: SMPLXPerson) -> PersonEstimate:
    """``robosmplx/msg/SMPLXPerson`` -> :class:`PersonEstimate` (batch size 1)."""
    fields = {name: torch.as_tensor(np.asarray(getattr(msg, name), np.float32)).reshape(1, -1, 3)
              for name in _FLAT_ROTATIONS}
    fields = {k: (v[:, 0] if v.shape[1] == 1 else v) for k, v in fields.items()}
    params = SMPLXParams.from_axis_angle(
        **fields,
        betas=torch.as_tensor(np.asarray(msg.betas, np.float32)).reshape(1, -1),
        expression=torch.as_tensor(np.asarray(msg.expression, np.float32)).reshape(1, -1),
        transl=torch.tensor([[msg.transl.x, msg.transl.y, msg.transl.z]], dtype=torch.float32),
    )
    j3 = np.array([[q.x, q.y, q.z] for q in msg.joints3d], np.float32).reshape(-1, 3)
    return PersonEstimate(
        track_id=msg.track_id, box_xyxy=np.asarray(msg.box_xyxy, np.float32), score=msg.score,
        params=params, joints3d=j3, joints2d=np.asarray(msg.joints2d, np.float32).reshape(-1, 2),
        confidence=PartConfidence(body=msg.body_confidence, left_hand=msg.left_hand_confidence,
                                  right_hand=msg.right_hand_confidence, face=msg.face_confidence),
    )


def persons_to_msg(persons: list[PersonEstimate], *, stamp_s: float, frame_id: str) -> SMPLXPersonArray:
    """All persons of one image -> ``SMPLXPersonArray`` stamped with the source image stamp."""
    return SMPLXPersonArray(header=Header(stamp=stamp_to_msg(stamp_s), frame_id=frame_id),
                            persons=[person_to_msg(p) for p in persons])
