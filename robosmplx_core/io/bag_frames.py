"""Frames of a rosbag2 bag's image topic, read with ``rosbags`` (no ROS installation needed).

A bag is a folder with ``metadata.yaml``, a ``.mcap`` or a ``.db3`` file. :class:`BagFrameSource`
reads one image topic (``sensor_msgs/Image`` in any encoding of :mod:`io.ros_images`, or
``CompressedImage``) and the latest ``CameraInfo`` before each image, whose K (3, 3) comes
with the frame (None until a usable one arrived: an uncalibrated camera publishes k = 0).
Frames that do not decode are yielded without an image and with a short skip reason, so a
caller can count them by reason (``robosmplx pseudolabel`` does).

``rosbags`` is imported when a bag is opened, not with this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from robosmplx_core.io.ros_images import (BadInputError, CameraInfoError, UnsupportedEncodingError,
                                          camera_info_to_K, is_compressed, message_to_rgb)
from robosmplx_core.io.sources import SourceError, SourceItem

__all__ = ["BAG_SUFFIXES", "IMAGE_TYPES", "CAMERA_INFO_TYPE", "is_bag", "sibling_camera_info_topic",
           "ros_image_to_rgb", "BagFrameSource"]

BAG_SUFFIXES = (".mcap", ".db3")
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


def is_bag(path: Path) -> bool:
    """A rosbag2 bag: a folder with metadata.yaml, or a .mcap / .db3 file."""
    return (path.is_file() and path.suffix.lower() in BAG_SUFFIXES) or (path / "metadata.yaml").is_file()


def sibling_camera_info_topic(image_topic: str) -> str:
    """The camera_info topic beside an image topic: ``/cam/image_raw[/compressed]`` ->
    ``/cam/camera_info``."""
    return image_topic.removesuffix("/compressed").rsplit("/", 1)[0] + "/camera_info"


def ros_image_to_rgb(msg: Any) -> tuple[Optional[np.ndarray], str]:
    """A deserialised ``sensor_msgs`` Image or CompressedImage -> ((H, W, 3) uint8 RGB, "") or
    (None, reason). The image is a C-contiguous, writable array of its own (never a view of the
    message). The reason is short, to count skipped frames by: "could not be decoded"
    (compressed), "unsupported encoding '...'" or "inconsistent image size (...)" (raw); the
    decoder's full message is in :func:`io.ros_images.message_to_rgb`'s errors."""
    try:
        return np.require(message_to_rgb(msg), requirements=["C", "W", "O"]), ""
    except BadInputError as exc:
        if is_compressed(msg):
            return None, "could not be decoded"
        if isinstance(exc, UnsupportedEncodingError):
            return None, f"unsupported encoding {msg.encoding!r}"
        return None, (f"inconsistent image size ({int(msg.width)}x{int(msg.height)}, step {int(msg.step)}, "
                      f"{len(msg.data)} bytes)")


def _camera_info_K(msg: Any) -> Optional[np.ndarray]:
    """K (3, 3) of a camera_info message; None for an uncalibrated camera (k = 0) or no message."""
    if msg is None:
        return None
    try:
        return camera_info_to_K(msg)
    except CameraInfoError:
        return None


class BagFrameSource:
    """Frames of a rosbag2 bag's image topic, with the latest camera_info's K (see module doc).

    Iterates (SourceItem, K (3, 3) float64 or None); stamps from the image headers (the bag
    time where a header stamp is 0). The camera_info topic: the image topic's sibling
    (:func:`sibling_camera_info_topic`), else the bag's only one, else none.

    Raises:
        SourceError: an unreadable bag, no or several image topics without ``image_topic``, or
            an ``image_topic`` that is not an image topic of the bag.
    """

    kind = "bag"

    def __init__(self, spec: str, *, max_frames: Optional[int] = None, image_topic: Optional[str] = None) -> None:
        from rosbags.rosbag2 import Reader  # imported for bags only

        self.spec, self.max_frames, self.path = spec, max_frames, Path(spec).expanduser()
        try:
            with Reader(self.path) as reader:
                topics = {name: (t.msgtype, t.msgcount) for name, t in reader.topics.items()}
        except Exception as exc:  # rosbags raises several types for unreadable bags
            raise SourceError(f"{spec}: cannot read the rosbag2 bag ({type(exc).__name__}: {exc})") from None
        images = sorted(n for n, (t, _) in topics.items() if t in IMAGE_TYPES)
        if image_topic is None and len(images) != 1:
            raise SourceError(f"{spec}: {'no image topic' if not images else 'several image topics'} "
                              f"({', '.join(images) or ', '.join(IMAGE_TYPES)}); choose one with --image-topic")
        if image_topic is not None and image_topic not in images:
            raise SourceError(f"{spec}: --image-topic {image_topic} is not an image topic of the bag; "
                              f"image topics: {', '.join(images) or 'none'}")
        self.topic = image_topic or images[0]
        infos = sorted(n for n, (t, _) in topics.items() if t == CAMERA_INFO_TYPE)
        sibling = sibling_camera_info_topic(self.topic)
        self.info_topic = sibling if sibling in infos else infos[0] if len(infos) == 1 else None
        self.num_frames = topics[self.topic][1]

    def __len__(self) -> int:
        return min(self.num_frames, self.max_frames) if self.max_frames is not None else self.num_frames

    def __iter__(self) -> Iterator[tuple[SourceItem, Optional[np.ndarray]]]:
        from rosbags.rosbag2 import Reader
        from rosbags.typesys import Stores, get_typestore

        store, K, index = get_typestore(Stores.ROS2_HUMBLE), None, 0
        with Reader(self.path) as reader:
            wanted = [c for c in reader.connections if c.topic in (self.topic, self.info_topic)]
            for conn, t_ns, raw in reader.messages(connections=wanted):
                if self.max_frames is not None and index >= self.max_frames:
                    return
                try:
                    msg = store.deserialize_cdr(raw, conn.msgtype)
                except Exception as exc:  # a corrupt message: a bad frame, or a camera_info ignored
                    msg, image, reason = None, None, f"cannot deserialise {conn.msgtype} ({type(exc).__name__})"
                if conn.topic == self.info_topic:  # an uncalibrated camera (k = 0) or a bad message: no K
                    K = _camera_info_K(msg)
                    continue
                stamp = t_ns * 1e-9  # bag time, where the header has no stamp
                if msg is not None:
                    stamp = (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9) or stamp
                    image, reason = ros_image_to_rgb(msg)
                yield SourceItem(index, stamp, image, reason, f"{self.topic} #{index}"), K
                index += 1
