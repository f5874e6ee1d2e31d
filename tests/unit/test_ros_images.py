"""Known values of the ROS-free image decoder (``robosmplx_core.io.ros_images``).

The messages here are plain objects with the fields of ``sensor_msgs/Image``,
``CompressedImage`` and ``CameraInfo`` (:class:`FakeImage` etc.), not ROS messages: the core
must not import ROS, and the decoder works on any object with the message's fields (rclpy's
messages are checked in ``tests/ros/test_convert.py``, rosbags' in the pseudolabel CLI test).
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pytest

from robosmplx_core.io import ros_images as R
from robosmplx_core.io.bag_frames import ros_image_to_rgb, sibling_camera_info_topic

RGB = np.array([[[10, 20, 30], [40, 50, 60]]], np.uint8)  # (1, 2, 3): one row, two pixels


@dataclass
class FakeImage:
    """The fields of ``sensor_msgs/Image`` (header left out: the decoder does not read it)."""

    height: int = 0
    width: int = 0
    encoding: str = ""
    is_bigendian: int = 0
    step: int = 0
    data: Any = b""


@dataclass
class FakeCompressedImage:
    """The fields of ``sensor_msgs/CompressedImage`` (no header)."""

    format: str = ""
    data: Any = b""


@dataclass
class FakeCameraInfo:
    """The ``k`` field of ``sensor_msgs/CameraInfo`` (row-major 3x3)."""

    k: list = field(default_factory=lambda: [0.0] * 9)


def _image(pixels: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> FakeImage:
    """A FakeImage of (H, W, C) ``pixels`` stored with ``pad`` bytes of padding per row."""
    h, w = pixels.shape[:2]
    stored = pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<")).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([stored, np.full((h, pad), 0xEE, np.uint8)], axis=1)
    return FakeImage(height=h, width=w, encoding=encoding, is_bigendian=int(bigendian), step=rows.shape[1],
                     data=rows.tobytes())


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize("encoding, stored", [
    ("rgb8", [[[10, 20, 30], [40, 50, 60]]]),
    ("bgr8", [[[30, 20, 10], [60, 50, 40]]]),
    ("8UC3", [[[30, 20, 10], [60, 50, 40]]]),
    ("rgba8", [[[10, 20, 30, 255], [40, 50, 60, 7]]]),
    ("bgra8", [[[30, 20, 10, 255], [60, 50, 40, 7]]]),
])
def test_colour_encodings(encoding: str, stored: list, pad: int) -> None:
    got = R.image_to_rgb(_image(np.array(stored, np.uint8), encoding, pad))
    assert got.dtype == np.uint8 and got.shape == (1, 2, 3)
    np.testing.assert_array_equal(got, RGB)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8(encoding: str) -> None:
    got = R.image_to_rgb(_image(np.array([[[0], [9], [200]]], np.uint8), encoding, pad=1))
    np.testing.assert_array_equal(got, [[[0, 0, 0], [9, 9, 9], [200, 200, 200]]])


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
def test_mono16_keeps_the_high_byte(encoding: str, bigendian: bool) -> None:
    mono = np.array([[[0], [255], [256], [65535]], [[1000], [32768], [511], [512]]], np.uint16)
    got = R.image_to_rgb(_image(mono, encoding, pad=2, bigendian=bigendian))
    np.testing.assert_array_equal(got[:, :, 0], [[0, 0, 1, 255], [3, 128, 1, 2]])  # v // 256
    assert got.dtype == np.uint8 and (got == got[:, :, :1]).all()


@pytest.mark.parametrize("encoding, stored", [
    ("yuv422", [128, 16, 128, 235]), ("uyvy", [128, 16, 128, 235]),  # U Y0 V Y1
    ("yuv422_yuy2", [16, 128, 235, 128]), ("yuyv", [16, 128, 235, 128]),  # Y0 U Y1 V
])
def test_yuv422_grey(encoding: str, stored: list) -> None:
    """Neutral chroma (U = V = 128), video-range luma: Y 16 is black, Y 235 is white."""
    got = R.image_to_rgb(_image(np.array(stored, np.uint8).reshape(1, 2, 2), encoding))
    assert got.shape == (1, 2, 3)
    assert (np.abs(got.astype(int) - [[[0, 0, 0], [255, 255, 255]]]) <= 1).all()


@pytest.mark.parametrize("as_data", [bytes, bytearray, lambda b: array.array("B", b),
                                     lambda b: np.frombuffer(b, np.uint8), lambda b: list(b)],
                         ids=["bytes", "bytearray", "array", "ndarray", "list"])
def test_any_data_container(as_data) -> None:
    msg = _image(RGB[:, :, ::-1].copy(), "bgr8", pad=1)
    msg.data = as_data(msg.data)
    np.testing.assert_array_equal(R.image_to_rgb(msg), RGB)
    np.testing.assert_array_equal(R.message_to_rgb(msg), RGB)


def test_rgb8_is_a_view_and_image_array_keeps_the_stored_layout() -> None:
    msg = _image(RGB, "rgb8")
    assert not R.image_to_rgb(msg).flags.owndata  # no copy of msg.data
    stored = R.image_array(_image(np.array([[[1, 2, 3, 4]]], np.uint8), "bgra8", pad=2))
    np.testing.assert_array_equal(stored, [[[1, 2, 3, 4]]])
    big = R.image_array(_image(np.array([[[258]]], np.uint16), "mono16", bigendian=True))
    assert big.dtype == np.uint16 and big.dtype.isnative and int(big[0, 0, 0]) == 258


def test_bad_raw_images_raise_clear_errors() -> None:
    with pytest.raises(R.UnsupportedEncodingError, match="'bayer_rggb8' is not supported; supported: rgb8"):
        R.image_to_rgb(_image(RGB, "bayer_rggb8"))
    short = _image(RGB, "rgb8")
    short.data = short.data[:-1]
    with pytest.raises(R.ImageSizeError, match=r"5 bytes, expected step \* height = 6 \* 1 = 6"):
        R.image_to_rgb(short)
    narrow = _image(RGB, "rgb8")
    narrow.step = 5
    with pytest.raises(R.ImageSizeError, match="step 5 is too small or misaligned for 2 pixels of rgb8"):
        R.image_to_rgb(narrow)
    odd = _image(np.array([[[1, 2]]], np.uint16), "mono16")
    odd.step, odd.data = 3, odd.data + b"\0"  # 16-bit rows must start on 2-byte boundaries
    with pytest.raises(R.ImageSizeError, match="misaligned"):
        R.image_to_rgb(odd)
    with pytest.raises(R.ImageSizeError, match="yuv422 needs an even width, got 3"):
        R.image_to_rgb(FakeImage(height=1, width=3, encoding="yuv422", step=6, data=bytes(6)))
    with pytest.raises(R.EmptyImageError, match="empty image: 0x0 pixels"):
        R.image_to_rgb(FakeImage(encoding="rgb8"))
    err = pytest.raises(R.ImageSizeError, R.image_to_rgb, short).value
    assert isinstance(err, ValueError) and isinstance(err, R.BadInputError) and err.kind == "bad_size"


def test_compressed_images() -> None:
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
    png = FakeCompressedImage(format="png", data=cv2.imencode(".png", rgb[:, :, ::-1])[1].tobytes())
    np.testing.assert_array_equal(R.compressed_to_rgb(png), rgb)
    np.testing.assert_array_equal(R.message_to_rgb(png), rgb)  # dispatch on the fields
    png.data = np.frombuffer(png.data, np.uint8)  # as rosbags deserialises it
    np.testing.assert_array_equal(R.compressed_to_rgb(png), rgb)
    with pytest.raises(R.CompressedDecodeError, match=r"\(9 bytes, format 'jpeg'\) does not decode"):
        R.compressed_to_rgb(FakeCompressedImage(format="jpeg", data=b"\xff\xd8garbage"))
    with pytest.raises(R.EmptyImageError, match="format 'jpeg'.* has no data"):
        R.compressed_to_rgb(FakeCompressedImage(format="jpeg"))
    with pytest.raises(R.UnsupportedEncodingError, match="compressedDepth.*not a colour image"):
        R.compressed_to_rgb(FakeCompressedImage(format="16UC1; compressedDepth png", data=png.data))


def test_camera_info_K() -> None:
    k = [600.0, 0.0, 320.0, 0.0, 610.0, 240.0, 0.0, 0.0, 1.0]
    K = R.camera_info_to_K(FakeCameraInfo(k=k))
    assert K.dtype == np.float64 and K.shape == (3, 3) and K[1, 1] == 610.0 and K[0, 2] == 320.0
    for bad in ([0.0] * 9, [float("nan")] + k[1:], [-1.0] + k[1:]):
        with pytest.raises(R.CameraInfoError, match="unusable focal lengths"):
            R.camera_info_to_K(FakeCameraInfo(k=bad))


def test_bag_frames_skip_reasons() -> None:
    """``robosmplx pseudolabel`` counts undecodable bag frames by these short reasons."""
    image, reason = ros_image_to_rgb(_image(RGB, "rgb8"))
    assert reason == "" and image.flags.owndata and image.flags.writeable and image.flags.c_contiguous
    np.testing.assert_array_equal(image, RGB)
    short = _image(RGB, "rgb8")
    short.data = short.data[:-1]
    assert ros_image_to_rgb(short) == (None, "inconsistent image size (2x1, step 6, 5 bytes)")
    assert ros_image_to_rgb(_image(RGB, "32FC1")) == (None, "unsupported encoding '32FC1'")
    assert ros_image_to_rgb(FakeCompressedImage(format="jpeg", data=b"x")) == (None, "could not be decoded")
    assert sibling_camera_info_topic("/cam/image_raw/compressed") == "/cam/camera_info"
    assert sibling_camera_info_topic("/cam/image_raw") == "/cam/camera_info"
