"""ROS image and camera_info messages -> numpy, without ROS (no rclpy, no cv_bridge).

Works on any object with the message's fields: rclpy messages (``robosmplx_ros.convert``
re-exports these functions), ``rosbags``' deserialised messages (``io.bag_frames``), or plain
stand-ins. ``data`` may be ``bytes``, ``array.array``, a uint8 numpy array or a list of ints.

``image_to_rgb`` / ``compressed_to_rgb`` / ``message_to_rgb`` give (H, W, 3) uint8 RGB.
Raw ``sensor_msgs/Image`` encodings: rgb8, bgr8, rgba8, bgra8 (alpha dropped), mono8, mono16
(scaled to 8 bits by keeping the high byte, v // 256; ``is_bigendian`` honoured), 8UC1 / 8UC3
/ 16UC1 (as mono8 / bgr8 / mono16), yuv422 = uyvy (UYVY) and yuv422_yuy2 = yuyv (YUYV).
Row padding (``step`` > width * bytes per pixel) is skipped. ``sensor_msgs/CompressedImage``:
anything OpenCV decodes (JPEG, PNG, ...); ``compressedDepth`` is refused.

Bad input raises a subclass of :class:`BadInputError` (a ``ValueError``) whose message names
what was found and what is expected, and whose ``kind`` names a counter for it (the node's
diagnostics use these names).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = ["BadInputError", "UnsupportedEncodingError", "ImageSizeError", "EmptyImageError",
           "CompressedDecodeError", "CameraInfoError", "RAW_ENCODINGS", "image_array", "image_to_rgb",
           "compressed_to_rgb", "is_compressed", "message_to_rgb", "camera_info_to_K"]


class BadInputError(ValueError):
    """An input message that cannot be used; ``kind`` names its counter in diagnostics."""

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
"""The raw ``sensor_msgs/Image`` encodings :func:`image_to_rgb` decodes."""
_YUV_CODES = {"yuv422": cv2.COLOR_YUV2RGB_UYVY, "uyvy": cv2.COLOR_YUV2RGB_UYVY,
              "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2, "yuyv": cv2.COLOR_YUV2RGB_YUY2}
_BGR_ORDER = ("bgr8", "8UC3", "bgra8")


def _buffer(data: Any) -> Any:
    """``msg.data`` as something ``np.frombuffer`` reads without a copy where it can."""
    if isinstance(data, np.ndarray):  # rosbags: a uint8 array (usually a view of the raw message)
        return np.ascontiguousarray(data.reshape(-1), np.uint8)
    if isinstance(data, (list, tuple)):
        return np.asarray(data, np.uint8)
    return data  # bytes, bytearray, array.array, memoryview


def image_array(msg: Any) -> np.ndarray:
    """The pixels of a raw ``sensor_msgs/Image`` as stored: (H, W, C) numpy view of ``msg.data``
    (no copy; row padding given by ``step`` is skipped), dtype per encoding, native byte order
    (big-endian 16-bit data is copied once to native).

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
    a = np.frombuffer(_buffer(msg.data), dtype=dt).reshape(h, step // dt.itemsize)[:, : w * ch].reshape(h, w, ch)
    return a.astype(dtype) if dt.byteorder == ">" else a  # big-endian 16-bit: one copy to native


def image_to_rgb(msg: Any) -> np.ndarray:
    """Raw ``sensor_msgs/Image`` -> (H, W, 3) uint8 RGB (a read-only view of ``msg.data`` for
    rgb8, bgr8, rgba8, bgra8 and 8UC3, not necessarily contiguous; otherwise one conversion).
    Raises a :class:`BadInputError` subclass (see :func:`image_array`)."""
    a = image_array(msg)
    enc = msg.encoding
    if enc in _YUV_CODES:
        return cv2.cvtColor(np.ascontiguousarray(a), _YUV_CODES[enc])
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)  # mono16: keep the high byte
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    if enc in _BGR_ORDER:
        return a[:, :, 2::-1]
    return a[:, :, :3]


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """``sensor_msgs/CompressedImage`` (JPEG, PNG, anything OpenCV decodes) -> (H, W, 3) uint8
    RGB. Raises :class:`EmptyImageError`, :class:`UnsupportedEncodingError` (compressedDepth)
    or :class:`CompressedDecodeError`."""
    if len(msg.data) == 0:
        raise EmptyImageError(f"compressed image (format {msg.format!r}) has no data")
    if "compressedDepth" in msg.format:
        raise UnsupportedEncodingError(f"compressed format {msg.format!r} (depth) is not a colour image")
    bgr = cv2.imdecode(np.frombuffer(_buffer(msg.data), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise CompressedDecodeError(f"compressed image data ({len(msg.data)} bytes, format {msg.format!r}) "
                                    "does not decode as JPEG/PNG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def is_compressed(msg: Any) -> bool:
    """Whether ``msg`` is a ``sensor_msgs/CompressedImage`` (it has ``format``, not ``encoding``)."""
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def message_to_rgb(msg: Any) -> np.ndarray:
    """Raw or compressed image message -> (H, W, 3) uint8 RGB (:func:`image_to_rgb` or
    :func:`compressed_to_rgb`, chosen by the message's fields)."""
    return compressed_to_rgb(msg) if is_compressed(msg) else image_to_rgb(msg)


def camera_info_to_K(msg: Any) -> np.ndarray:
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
