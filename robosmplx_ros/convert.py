"""Pure conversions between robosmplx_core records and ROS messages (no node needed).

Axis-angle rotations (radians) go into the messages, rotation matrices stay in the core;
every 3D field is in the camera optical frame (the header's frame_id).

Images (no cv_bridge): ``image_to_rgb`` / ``compressed_to_rgb`` give (H, W, 3) uint8 RGB,
``image_to_frame`` a core :class:`Frame`; ``rgb_to_image`` / ``rgb_to_compressed`` go back
(``msg.data`` is always assigned ``bytes``: assigning an ndarray costs ~57 ms per VGA image).
Raw encodings: rgb8, bgr8, rgba8, bgra8, mono8, mono16 (scaled to 8 bits by keeping the high
byte, v // 256), 8UC1/8UC3/16UC1 (as mono8/bgr8/mono16), yuv422 (UYVY) and yuv422_yuy2 (YUYV).
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
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from std_msgs.msg import Header, String

from robosmplx.msg import SMPLXPerson, SMPLXPersonArray
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
# Images and camera info

class BadInputError(ValueError):
    """An input message the node cannot use; ``kind`` names its counter in diagnostics."""

    kind = "bad_input"


class UnsupportedEncodingError(BadInputError):
    """Image encoding (or compressed format) not supported."""

    kind = "bad_encoding"


class ImageSizeError(BadInputError):
    """``step`` / ``data`` size inconsistent with width, height and encoding."""

    kind = "bad_size"


class EmptyImageError(BadInputError):
    """Zero width or height, or no data."""

    kind = "empty_image"


class CompressedDecodeError(BadInputError):
    """Compressed image data that does not decode."""

    kind = "bad_compressed"


class CameraInfoError(BadInputError):
    """Unusable camera_info (zero or non-finite focal length)."""

    kind = "bad_camera_info"


# encoding -> (numpy dtype, channels as stored)
_RAW_ENCODINGS: dict[str, tuple[type, int]] = {
    "rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "rgba8": (np.uint8, 4), "bgra8": (np.uint8, 4),
    "mono8": (np.uint8, 1), "mono16": (np.uint16, 1), "8UC1": (np.uint8, 1), "8UC3": (np.uint8, 3),
    "16UC1": (np.uint16, 1), "yuv422": (np.uint8, 2), "uyvy": (np.uint8, 2), "yuv422_yuy2": (np.uint8, 2),
    "yuyv": (np.uint8, 2),
}
RAW_ENCODINGS = tuple(_RAW_ENCODINGS)
_YUV_CODES = {"yuv422": cv2.COLOR_YUV2RGB_UYVY, "uyvy": cv2.COLOR_YUV2RGB_UYVY,
              "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2, "yuyv": cv2.COLOR_YUV2RGB_YUY2}


def image_array(msg: Image) -> np.ndarray:
    """The pixels of a raw ``sensor_msgs/Image`` as stored: (H, W, C) numpy view of ``msg.data``
    (no copy; row padding given by ``step`` is skipped), dtype per encoding, native byte order.

    Raises:
        UnsupportedEncodingError, EmptyImageError, ImageSizeError.
    """
    enc = msg.encoding
    if enc not in _RAW_ENCODINGS:
        raise UnsupportedEncodingError(f"image encoding {enc!r} is not supported; supported: "
                                       f"{', '.join(RAW_ENCODINGS)} (or use image/compressed)")
    dtype, ch = _RAW_ENCODINGS[enc]
    h, w, step, n = int(msg.height), int(msg.width), int(msg.step), len(msg.data)
    if h == 0 or w == 0 or n == 0:
        raise EmptyImageError(f"empty image: {w}x{h} pixels, {n} data bytes")
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    row = w * ch * dt.itemsize
    if step < row or step % dt.itemsize:
        raise ImageSizeError(f"image step {step} is too small or misaligned for {w} pixels of {enc} "
                             f"(at least {row} bytes per row)")
    if n != step * h:
        raise ImageSizeError(f"image data has {n} bytes, expected step * height = {step} * {h} = {step * h}")
    if enc in _YUV_CODES and w % 2:
        raise ImageSizeError(f"{enc} needs an even width, got {w}")
    a = np.frombuffer(msg.data, dtype=dt).reshape(h, step // dt.itemsize)[:, : w * ch].reshape(h, w, ch)
    return a.astype(dtype) if dt.byteorder == ">" else a  # big-endian 16-bit: one copy to native


def image_to_rgb(msg: Image) -> np.ndarray:
    """Raw ``sensor_msgs/Image`` -> (H, W, 3) uint8 RGB (a view of ``msg.data`` for rgb8
    without padding; otherwise one conversion). Raises a :class:`BadInputError` subclass."""
    a = image_array(msg)
    enc = msg.encoding
    if enc in _YUV_CODES:
        return cv2.cvtColor(np.ascontiguousarray(a), _YUV_CODES[enc])
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)  # mono16: keep the high byte
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    if enc in ("bgr8", "8UC3", "bgra8"):
        return a[:, :, 2::-1]
    return a[:, :, :3]


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """``sensor_msgs/CompressedImage`` (JPEG, PNG, anything OpenCV decodes) -> (H, W, 3) uint8
    RGB. Raises :class:`EmptyImageError` or :class:`CompressedDecodeError`."""
    if len(msg.data) == 0:
        raise EmptyImageError(f"compressed image (format {msg.format!r}) has no data")
    if "compressedDepth" in msg.format:
        raise UnsupportedEncodingError(f"compressed format {msg.format!r} (depth) is not a colour image")
    bgr = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise CompressedDecodeError(f"compressed image data ({len(msg.data)} bytes, format {msg.format!r}) "
                                    "does not decode as JPEG/PNG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def camera_info_to_K(msg: CameraInfo) -> np.ndarray:
    """``sensor_msgs/CameraInfo`` -> (3, 3) float64 K (row-major ``msg.k``).

    Raises:
        CameraInfoError: zero, negative or non-finite focal length (an uncalibrated camera
            publishes k = 0: leave camera_info unconnected and the default field of view is used).
    """
    K = np.asarray(msg.k, np.float64).reshape(3, 3)
    if not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CameraInfoError(f"camera_info has unusable focal lengths fx={K[0, 0]}, fy={K[1, 1]} "
                              "(uncalibrated camera?); expected positive finite values in k[0] and k[4]")
    return K


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
