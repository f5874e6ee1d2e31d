"""TF transforms of the tracked bodies (``geometry_msgs/TransformStamped``; no tf2 needed).

Frame names and the chain are defined in :mod:`robosmplx_ros.skeleton`: ``body_<id>`` (parent:
the camera optical frame, at the pelvis, rotated by global_orient), ``pelvis_<id>`` (identity
below ``body_<id>``), then one frame per SMPL-X joint ``<joint>_<id>`` under its parent's frame.
56 transforms per body. Published on ``/tf`` as ``tf2_msgs/TFMessage`` (the node uses the
one-message tf2_msgs built by ``tools/build_tf2_msgs.sh`` when no ROS install provides it).
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Quaternion, Transform, TransformStamped, Vector3
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header

from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES, SMPLX_PARENTS
from robosmplx_ros.convert import copy_header
from robosmplx_ros.skeleton import BodyPose, body_frame, frame_name


def _transform(header: Header, parent: str, child: str, t: np.ndarray, q_xyzw: np.ndarray) -> TransformStamped:
    tx, ty, tz = (float(v) for v in t)
    qx, qy, qz, qw = (float(v) for v in q_xyzw)
    return TransformStamped(header=copy_header(header, parent), child_frame_id=child,
                            transform=Transform(translation=Vector3(x=tx, y=ty, z=tz),
                                                rotation=Quaternion(x=qx, y=qy, z=qz, w=qw)))


def body_transforms(pose: BodyPose, header: Header, camera_frame: str) -> list[TransformStamped]:
    """The 56 transforms of one body, stamped with ``header.stamp`` (the source image stamp).

    Order: ``camera_frame -> body_<id>``, ``body_<id> -> pelvis_<id>``, then joints 1..54 as
    ``<parent>_<id> -> <joint>_<id>`` (translation = rest bone, rotation = local rotation).
    """
    tid = pose.track_id
    quats = Rotation.from_matrix(pose.local_rotmats).as_quat()  # (55, 4) xyzw
    bones = pose.bones
    out = [_transform(header, camera_frame, body_frame(tid), pose.pelvis, quats[0]),
           _transform(header, body_frame(tid), frame_name("pelvis", tid), np.zeros(3), np.array([0, 0, 0, 1.0]))]
    for j in range(1, len(SMPLX_JOINT_NAMES)):
        out.append(_transform(header, frame_name(SMPLX_JOINT_NAMES[SMPLX_PARENTS[j]], tid),
                              frame_name(SMPLX_JOINT_NAMES[j], tid), bones[j], quats[j]))
    return out
