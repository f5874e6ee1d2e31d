"""Pure conversions between robosmplx_core records and ROS messages (no node needed).

Axis-angle rotations (radians) go into the messages, rotation matrices stay in the core;
every 3D field is in the camera optical frame (the header's frame_id).

Images (no cv_bridge): ``image_array``, ``image_to_rgb`` / ``compressed_to_rgb`` (give (H, W, 3)
uint8 RGB), ``camera_info_to_K`` and the error classes are the ROS-free decoder of
:mod:`robosmplx_core.io.ros_images`, re-exported here (one implementation for the node, the bag
tool and ``robosmplx pseudolabel``); ``image_to_frame`` gives a core :class:`Frame`;
``rgb_to_image`` / ``rgb_to_compressed`` go back (``msg.data`` is always assigned ``bytes``:
assigning an ndarray costs ~57 ms per VGA image).
Raw encodings: rgb8, bgr8, rgba8, bgra8, mono8, mono16, 8UC1/8UC3/16UC1, yuv422 (UYVY) and
yuv422_yuy2 (YUYV); how each is decoded is documented in ``robosmplx_core.io.ros_images``.
Bad input raises a subclass of :class:`BadInputError` (a ``ValueError``) whose ``kind`` names
the node's counter for it.
"""

from __future__ import annotations

import math

from typing import Optional

import cv2
import numpy as np
import torch
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Header, String

from robosmplx.msg import SMPLXPerson, SMPLXPersonArray
from robosmplx_core.io.ros_images import (  # noqa: F401  (re-exported: this module's image API)
    RAW_ENCODINGS, BadInputError, CameraInfoError, CompressedDecodeError, EmptyImageError, ImageSizeError,
    UnsupportedEncodingError, camera_info_to_K, compressed_to_rgb, image_array, image_to_rgb,
)
from robosmplx_core.types import Frame, PartConfidence, PersonEstimate, SMPLXParams
from robosmplx_ros.skeleton import BodyPose, body_id, dof_names, euler_xyz

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


def persons_to_msg(persons: list[PersonEstimate], *, stamp_s: Optional[float] = None, frame_id: str = "",
                   header: Optional[Header] = None) -> SMPLXPersonArray:
    """All persons of one image -> ``SMPLXPersonArray`` stamped with the source image stamp.

    Pass the source image's ``header`` (copied exactly: sec/nanosec never go through a float),
    or ``stamp_s`` and ``frame_id``.
    """
    if header is None:
        if stamp_s is None:
            raise ValueError("persons_to_msg: give header= (the source image header) or stamp_s=")
        header = Header(stamp=stamp_to_msg(stamp_s), frame_id=frame_id)
    return SMPLXPersonArray(header=copy_header(header), persons=[person_to_msg(p) for p in persons])


def copy_header(header: Header, frame_id: Optional[str] = None) -> Header:
    """A copy of ``header`` (exact stamp), optionally with another frame id."""
    return Header(stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                  frame_id=header.frame_id if frame_id is None else frame_id)


def stamp_ns(stamp: Time) -> int:
    """builtin_interfaces/Time -> integer nanoseconds (exact; for ordering stamps)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


# ---------------------------------------------------------------------------------------------
# Images and camera info (decoding: robosmplx_core.io.ros_images, imported above)

def image_to_frame(msg: Image | CompressedImage, *, K: Optional[np.ndarray] = None, index: int = 0,
                   frame_id: Optional[str] = None) -> Frame:
    """Raw or compressed image message -> :class:`Frame` (contiguous RGB, stamp from the header)."""
    rgb = compressed_to_rgb(msg) if isinstance(msg, CompressedImage) else image_to_rgb(msg)
    return Frame(np.ascontiguousarray(rgb), stamp_s=stamp_from_msg(msg.header.stamp), K=K, index=index,
                 frame_id=msg.header.frame_id if frame_id is None else frame_id)


def rgb_to_image(rgb: np.ndarray, header: Header, encoding: str = "rgb8") -> Image:
    """(H, W, 3) uint8 RGB -> ``sensor_msgs/Image`` (rgb8, bgr8 or mono8), no row padding."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb_to_image: expected (H, W, 3) uint8 RGB, got {rgb.dtype} {rgb.shape}")
    pixels = {"rgb8": lambda a: a, "bgr8": lambda a: a[:, :, ::-1],
              "mono8": lambda a: cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY)[:, :, None]}
    if encoding not in pixels:
        raise ValueError(f"rgb_to_image: encoding {encoding!r}; expected one of {', '.join(pixels)}")
    a = np.ascontiguousarray(pixels[encoding](rgb))
    h, w, ch = a.shape
    msg = Image(header=header, height=h, width=w, encoding=encoding, is_bigendian=0, step=w * ch)
    msg.data = a.tobytes()
    return msg


def rgb_to_compressed(rgb: np.ndarray, header: Header, fmt: str = "jpeg", quality: int = 90) -> CompressedImage:
    """(H, W, 3) uint8 RGB -> ``sensor_msgs/CompressedImage`` ("jpeg" or "png")."""
    ext = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}.get(fmt)
    if ext is None:
        raise ValueError(f"rgb_to_compressed: format {fmt!r}; expected jpeg or png")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise ValueError(f"rgb_to_compressed: OpenCV could not encode a {rgb.shape} image as {fmt}")
    msg = CompressedImage(header=header, format="jpeg" if ext == ".jpg" else "png")
    msg.data = buf.tobytes()
    return msg


# ---------------------------------------------------------------------------------------------
# Per-body REP-155 style outputs

def joint_state_msg(pose: BodyPose, header: Header) -> JointState:
    """One body's ``sensor_msgs/JointState``: the 162 DoFs of :func:`skeleton.dof_names`
    (intrinsic XYZ Euler angles of each non-root joint, radians; see ``skeleton``), stamped
    with the source image header. velocity and effort are empty."""
    msg = JointState(header=copy_header(header), name=dof_names(pose.track_id))
    msg.position = euler_xyz(pose.local_rotmats[1:]).reshape(-1).tolist()
    return msg


def tracked_ids_msg(track_ids: list[int]) -> String:
    """``/humans/bodies/tracked`` without hri_msgs (no wheel): ``std_msgs/String`` whose data
    is the body ids (``skeleton.body_id``) in this frame, comma-separated, by ascending track id
    (e.g. "b3,b7"; "" = nobody)."""
    return String(data=",".join(body_id(i) for i in sorted(track_ids)))
