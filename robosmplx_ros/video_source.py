"""Publish a video file, an image or a folder of images as a ROS 2 camera.

    python -m robosmplx_ros.video_source SOURCE [--rate HZ] [--loop] [--frame-id camera_optical]
        [--fov-deg 60] [--max-frames N] [--compressed] [--stamp now|source]
        [--qos reliable|best_effort] [--wait-subscribers N] [--ros-args ...]

Topics (relative, so ``--ros-args -r __ns:=/cam -r image:=rgb`` remaps them):

- ``image`` (sensor_msgs/Image, ``rgb8``), or with ``--compressed`` ``image/compressed``
  (sensor_msgs/CompressedImage, JPEG, format ``"rgb8; jpeg compressed bgr8"`` as image_transport's
  compressed plugin writes it; remap it by its own name, ``-r image/compressed:=...``);
- ``camera_info`` (sensor_msgs/CameraInfo): ``K`` from ``default_intrinsics(W, H, fov_deg)``
  (no calibration is known for a file), zero ``plumb_bob`` distortion, ``R = I``, ``P = [K | 0]``,
  the same header as the image it describes (published just before it).

Pacing: one frame per tick of a steady wall-clock timer at the source's frame rate (``--rate``
overrides it); the next frame is decoded right after a publish, so a tick only publishes.
Frames the source cannot decode are skipped (the tick passes), counted and logged.
``header.stamp`` is the node clock's ``now()`` at publish (ROS time; sim time if
``use_sim_time``), or with ``--stamp source`` the frame's time in the file (seconds from 0,
growing across ``--loop`` passes).

QoS: KEEP_LAST depth 5, VOLATILE; RELIABLE by default (matches reliable and best-effort
subscribers, e.g. ``qos_profile_sensor_data``), ``--qos best_effort`` for a camera-like stream.

Exit status: 0 at the end of the source (without ``--loop``) or on SIGINT/SIGTERM; 2 for an
unusable source or bad arguments (message on stderr).

The message builders :func:`image_to_msg`, :func:`compressed_image_msg` and
:func:`camera_info_msg` are pure and reusable; they live here until ``robosmplx_ros.convert``
offers equivalents. Image glossary: H×W image, (H, W, 3) uint8 RGB arrays.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np
import rclpy
import rclpy.logging
from builtin_interfaces.msg import Time
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time as RosTime
from rclpy.utilities import remove_ros_args
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from robosmplx_core.geometry.projection import DEFAULT_FOV_DEG, default_intrinsics
from robosmplx_core.io.sources import FrameSource, SourceError, SourceItem

COMPRESSED_FORMAT = "rgb8; jpeg compressed bgr8"  # image_transport's name for an rgb8 JPEG
DEFAULT_FRAME_ID = "camera_optical"
FLUSH_TIMEOUT_S = 2.0  # at the end, wait this long for reliable subscribers to acknowledge


def _check_rgb8(image_rgb: np.ndarray) -> None:
    if not isinstance(image_rgb, np.ndarray) or image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 \
            or image_rgb.shape[2] != 3 or image_rgb.shape[0] == 0 or image_rgb.shape[1] == 0:
        got = (f"{image_rgb.dtype} {image_rgb.shape}" if isinstance(image_rgb, np.ndarray)
               else type(image_rgb).__name__)
        raise ValueError(f"image_rgb: expected an (H, W, 3) uint8 RGB array, got {got}; "
                         "convert with robosmplx_core.io.sources.to_rgb8")


def image_to_msg(image_rgb: np.ndarray, *, stamp: Time, frame_id: str) -> Image:
    """(H, W, 3) uint8 RGB array -> sensor_msgs/Image (``rgb8``, ``step = 3·W``, row-major).

    ``data`` is filled from ``ndarray.tobytes()`` (≈0.3 ms for 768×576); assigning the array
    itself would be element-wise and ~100× slower.
    """
    _check_rgb8(image_rgb)
    height, width = image_rgb.shape[:2]
    return Image(header=Header(stamp=stamp, frame_id=frame_id), height=height, width=width,
                 encoding="rgb8", is_bigendian=0, step=3 * width,
                 data=np.ascontiguousarray(image_rgb).tobytes())


def compressed_image_msg(image_rgb: np.ndarray, *, stamp: Time, frame_id: str,
                         quality: int = 90) -> CompressedImage:
    """(H, W, 3) uint8 RGB array -> sensor_msgs/CompressedImage JPEG (``quality`` 1–100)."""
    _check_rgb8(image_rgb)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image_rgb.shape}")
    return CompressedImage(header=Header(stamp=stamp, frame_id=frame_id), format=COMPRESSED_FORMAT,
                           data=jpeg.tobytes())


def camera_info_msg(width: int, height: int, K, *, stamp: Time, frame_id: str) -> CameraInfo:
    """Pinhole camera without distortion -> sensor_msgs/CameraInfo.

    Args:
        width, height: image size in pixels.
        K: (3, 3) intrinsics ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (numpy array, torch
            tensor or nested lists), column-vector convention, pixels.

    Returns:
        CameraInfo with ``k`` = K row-major (9), ``p`` = ``[K | 0]`` row-major (12),
        ``r`` = identity, ``d`` = five zeros, ``distortion_model = "plumb_bob"``.
    """
    if hasattr(K, "detach"):  # torch tensor (default_intrinsics returns one)
        K = K.detach().cpu().numpy()
    k = np.asarray(K, dtype=np.float64)
    if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ValueError(f"K: expected finite (3, 3) intrinsics with fx, fy > 0, got {k.tolist()}")
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"width, height: expected positive pixel sizes, got {width}x{height}")
    return CameraInfo(header=Header(stamp=stamp, frame_id=frame_id), width=int(width),
                      height=int(height), distortion_model="plumb_bob", d=[0.0] * 5,
                      k=k.reshape(9), r=np.eye(3).reshape(9),
                      p=np.concatenate([k, np.zeros((3, 1))], axis=1).reshape(12))


def _time_from_seconds(stamp_s: float) -> Time:
    return RosTime(nanoseconds=int(round(stamp_s * 1e9))).to_msg()


@dataclass(frozen=True)
class SourceOptions:
    """What :class:`VideoSourceNode` publishes and how; mirrors the CLI options."""

    rate_hz: float
    loop: bool = False
    frame_id: str = DEFAULT_FRAME_ID
    fov_deg: float = DEFAULT_FOV_DEG
    compressed: bool = False
    jpeg_quality: int = 90
    stamp: str = "now"  # "now": node clock at publish; "source": time in the file
    reliable: bool = True
    depth: int = 5
    wait_subscribers: int = 0  # hold the first frame until each topic has this many subscribers
    wait_timeout_s: float = 10.0


class VideoSourceNode(Node):
    """Publishes one :class:`FrameSource` frame per timer tick; ``done`` when it has run out."""

    def __init__(self, source: FrameSource, options: SourceOptions, *, name: str = "video_source") -> None:
        super().__init__(name)
        self.source, self.options = source, options
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=options.depth,
                         reliability=ReliabilityPolicy.RELIABLE if options.reliable
                         else ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)
        if options.compressed:
            self._image_pub = self.create_publisher(CompressedImage, "image/compressed", qos)
        else:
            self._image_pub = self.create_publisher(Image, "image", qos)
        self._info_pub = self.create_publisher(CameraInfo, "camera_info", qos)
        self.published = self.skipped = 0
        self.done = False
        self._intrinsics: dict[tuple[int, int], np.ndarray] = {}
        self._frames = iter(source)
        self._pass_offset_s = self._pass_span_s = 0.0
        self._items_this_pass = 0
        self._waiting = options.wait_subscribers > 0
        self._wait_deadline = time.monotonic() + options.wait_timeout_s
        self._first_publish = self._last_publish = 0.0
        self._cost_s = 0.0  # conversion + publish time, summed over published frames
        self._pending = self._next_item()  # decoded ahead: a tick only converts and publishes
        self._timer = self.create_timer(1.0 / options.rate_hz, self._on_tick,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))
        topic = self._image_pub.topic_name
        waiting = (f"; waiting up to {options.wait_timeout_s:g} s for {options.wait_subscribers} "
                   f"subscribers on each" if options.wait_subscribers > 0 else "")
        self.get_logger().info(f"publishing {source.kind} {source.spec!r} on {topic} + "
                               f"{self._info_pub.topic_name} at {options.rate_hz:g} Hz "
                               f"({'reliable' if options.reliable else 'best_effort'}){waiting}")

    def _next_item(self) -> Optional[SourceItem]:
        item = next(self._frames, None)
        if item is None and self.options.loop and self._items_this_pass > 0:
            self._pass_offset_s += self._pass_span_s
            self._items_this_pass = 0
            self._frames = iter(self.source)
            item = next(self._frames, None)
        if item is not None:
            self._items_this_pass += 1
            self._pass_span_s = max(self._pass_span_s, item.stamp_s + 1.0 / self.source.fps)
        return item

    def _subscribers_ready(self) -> bool:
        want = self.options.wait_subscribers
        if not self._waiting:
            return True
        have = min(self._image_pub.get_subscription_count(), self._info_pub.get_subscription_count())
        if have < want and time.monotonic() <= self._wait_deadline:
            return False
        if have < want:
            self.get_logger().warning(f"only {have} of {want} subscribers on both topics after "
                                      f"{self.options.wait_timeout_s:g} s; publishing anyway")
        self._waiting = False  # wait once, before the first frame
        return True

    def _on_tick(self) -> None:
        if self.done or not self._subscribers_ready():
            return
        item, self._pending = self._pending, None
        if item is None:
            self.done = True
            self._timer.cancel()
            return
        if item.image is None:
            self.skipped += 1
            self.get_logger().warning(f"skipped frame {item.index}: {item.skip_reason} "
                                      f"({self.skipped} skipped so far)", throttle_duration_sec=1.0)
        else:
            self._publish(item)
        self._pending = self._next_item()

    def _publish(self, item: SourceItem) -> None:
        t0 = time.perf_counter()
        opts = self.options
        if opts.stamp == "source":
            stamp = _time_from_seconds(item.stamp_s + self._pass_offset_s)
        else:
            stamp = self.get_clock().now().to_msg()
        height, width = item.image.shape[:2]
        if (width, height) not in self._intrinsics:
            self._intrinsics[(width, height)] = np.asarray(default_intrinsics(width, height, opts.fov_deg))
        info = camera_info_msg(width, height, self._intrinsics[(width, height)], stamp=stamp,
                               frame_id=opts.frame_id)
        if opts.compressed:
            msg = compressed_image_msg(item.image, stamp=stamp, frame_id=opts.frame_id,
                                       quality=opts.jpeg_quality)
        else:
            msg = image_to_msg(item.image, stamp=stamp, frame_id=opts.frame_id)
        self._info_pub.publish(info)
        self._image_pub.publish(msg)
        now = time.perf_counter()
        self._cost_s += now - t0
        self._first_publish = self._first_publish or t0
        self._last_publish = now
        self.published += 1

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until reliable subscribers acknowledged everything (True) or ``timeout_s`` passed."""
        if not self.options.reliable:
            time.sleep(0.1)  # best effort: nothing to wait for; let the last samples leave
            return True
        timeout = Duration(seconds=timeout_s)
        return self._image_pub.wait_for_all_acked(timeout) and self._info_pub.wait_for_all_acked(timeout)

    def summary(self) -> str:
        """One line: frames published and skipped, achieved rate, mean cost per frame."""
        span = self._last_publish - self._first_publish
        rate = f", {(self.published - 1) / span:.1f} Hz" if self.published > 1 and span > 0 else ""
        cost = (f", {1e3 * self._cost_s / self.published:.2f} ms/frame to convert+publish"
                if self.published else "")
        return f"published {self.published} frames, skipped {self.skipped}{rate}{cost}"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m robosmplx_ros.video_source",
                                 description="Publish a video, an image or an image folder as image + camera_info.")
    ap.add_argument("source", help="video file, image, folder of images or webcam index")
    ap.add_argument("--rate", type=float, default=None, metavar="HZ", help="publish rate (default: the source's fps)")
    ap.add_argument("--loop", action="store_true", help="start again at the end instead of exiting")
    ap.add_argument("--frame-id", default=DEFAULT_FRAME_ID, help="header.frame_id (an optical frame)")
    ap.add_argument("--fov-deg", type=float, default=DEFAULT_FOV_DEG, help="horizontal field of view for K")
    ap.add_argument("--max-frames", type=int, default=None, metavar="N", help="use only the first N frames")
    ap.add_argument("--compressed", action="store_true", help="publish image/compressed (JPEG) instead of image")
    ap.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 1-100 with --compressed")
    ap.add_argument("--stamp", choices=("now", "source"), default="now",
                    help="header.stamp: node clock at publish, or the frame's time in the file")
    ap.add_argument("--qos", choices=("reliable", "best_effort"), default="reliable", help="publisher reliability")
    ap.add_argument("--depth", type=int, default=5, help="publisher queue depth (KEEP_LAST)")
    ap.add_argument("--wait-subscribers", type=int, default=0, metavar="N",
                    help="hold the first frame until image and camera_info each have N subscribers")
    ap.add_argument("--wait-timeout", type=float, default=10.0, metavar="S",
                    help="with --wait-subscribers: start anyway after S seconds")
    return ap


def parse_options(argv: Sequence[str]) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    """Parse the non-ROS arguments (``argv`` without the program name); bad values exit 2."""
    ap = build_parser()
    args = ap.parse_args(list(argv))
    checks = [(args.rate is None or args.rate > 0, "--rate must be > 0"),
              (args.max_frames is None or args.max_frames >= 1, "--max-frames must be >= 1"),
              (0 < args.fov_deg < 180, "--fov-deg must be in (0, 180)"),
              (1 <= args.jpeg_quality <= 100, "--jpeg-quality must be in 1..100"),
              (args.depth >= 1, "--depth must be >= 1"),
              (args.wait_subscribers >= 0 and args.wait_timeout >= 0, "--wait-* must be >= 0")]
    for ok, message in checks:
        if not ok:
            ap.error(message)
    return args, ap


def _options_from_args(args: argparse.Namespace, source: FrameSource) -> SourceOptions:
    return SourceOptions(rate_hz=args.rate or source.fps, loop=args.loop, frame_id=args.frame_id,
                         fov_deg=args.fov_deg, compressed=args.compressed, jpeg_quality=args.jpeg_quality,
                         stamp=args.stamp, reliable=args.qos == "reliable", depth=args.depth,
                         wait_subscribers=args.wait_subscribers, wait_timeout_s=args.wait_timeout)


def _spin_until_done(node: VideoSourceNode) -> None:
    """Spin until the source ran out; SIGINT/SIGTERM end it with ExternalShutdownException."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    while not node.done:
        try:
            executor.spin_once(timeout_sec=0.1)
        except RuntimeError:  # rclpy's RCLError "context is not valid": a signal landed between spins
            if rclpy.ok():
                raise
            raise ExternalShutdownException() from None


def _log_summary_and_destroy(node: VideoSourceNode) -> None:
    summary, name = node.summary(), node.get_name()
    if rclpy.ok():  # normal end: the summary also goes to /rosout
        node.get_logger().info(summary)
        node.destroy_node()
    else:  # after SIGINT/SIGTERM the context is shut down and /rosout is gone: console only
        node.destroy_node()
        rclpy.logging.get_logger(name).info(summary)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point; ``argv`` includes the program name (like ``sys.argv``). Returns the exit code."""
    argv = list(sys.argv if argv is None else argv)
    args, _ = parse_options(remove_ros_args(argv)[1:])
    try:
        source = FrameSource(args.source, max_frames=args.max_frames)
    except SourceError as exc:
        print(f"video_source: error: {exc}", file=sys.stderr)
        return 2
    rclpy.init(args=argv)
    node: Optional[VideoSourceNode] = None
    code = 0
    try:
        node = VideoSourceNode(source, _options_from_args(args, source))
        _spin_until_done(node)
        if not node.flush():
            node.get_logger().warning("some subscribers did not acknowledge the last frames in time")
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # SIGINT / SIGTERM: stop publishing, report, exit 0
    except SourceError as exc:
        print(f"video_source: error: {exc}", file=sys.stderr)
        code = 2
    finally:
        if node is not None:
            _log_summary_and_destroy(node)
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
