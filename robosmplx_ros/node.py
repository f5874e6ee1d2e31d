"""The robosmplx ROS 2 node: camera images in, tracked whole-body SMPL-X out.

    robosmplx-node --ros-args -r image:=/camera/image_raw -r camera_info:=/camera/camera_info \
        --params-file config/robosmplx.yaml
    python -m robosmplx_ros.node --ros-args -p image_transport:=compressed

Subscribes (relative, remappable; sensor-data QoS): ``image`` (sensor_msgs/Image) or
``image/compressed`` (sensor_msgs/CompressedImage) per ``image_transport``, and ``camera_info``
(the latest K is used for the following images; without camera_info the config's default field
of view is used). Publishes: see :mod:`robosmplx_ros.outputs`, plus ``/diagnostics``
(diagnostic_msgs/DiagnosticArray: counters, fps, latency, per-stage milliseconds).

Threads: the image callback only converts the message and puts the frame into a size-1
latest-frame slot (a frame still waiting there is dropped and counted); one worker thread runs
the :class:`Estimator` and publishes. Bad input (unknown encoding, size mismatch, empty image,
undecodable compressed data, zero-focal camera_info, a stamp older than the last image) is
skipped, counted per kind and warned about at most once per ``warn_throttle_s`` per kind.
Parameters: :mod:`robosmplx_ros.params`. The per-image work itself (:class:`FrameProcessor`) is
shared with the offline bag processor :mod:`robosmplx_ros.bag`.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Optional, Sequence

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from robosmplx_core.pipeline.estimator import Estimator
from robosmplx_core.types import Frame
from robosmplx_core.threads import use_pipeline_threads
from robosmplx_ros.convert import (BadInputError, camera_info_to_K, copy_header, image_to_frame, stamp_ns)
from robosmplx_ros.outputs import FrameOutputs, OutputBuilder, OutputPublisher
from robosmplx_ros.params import NodeParams, declare_parameters

try:
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
except ImportError:  # pragma: no cover - documented fallback: counters only in the log
    DiagnosticArray = None

COUNTERS = ("frames_received", "frames_processed", "frames_dropped", "bad_encoding", "bad_size",
            "empty_image", "bad_compressed", "bad_camera_info", "stale_image", "processing_errors")


class StaleImageError(BadInputError):
    """An image whose stamp is older than the last accepted image's."""

    kind = "stale_image"


class LatestFrameSlot:
    """Holds at most one item; :meth:`put` replaces (drops) a waiting one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._closed = False

    def put(self, item: Any) -> bool:
        """Store ``item``; True when an older item was waiting and got dropped."""
        with self._cond:
            dropped = self._item is not None
            self._item = item
            self._cond.notify()
            return dropped

    def take(self, timeout_s: float) -> Any:
        """The waiting item (removing it), or None after ``timeout_s`` or when closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout_s)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class FrameProcessor:
    """The node's per-image work without threads or topics, shared with the bag processor
    (:mod:`robosmplx_ros.bag`) so a bag gets exactly what the node publishes.

    :meth:`intake` (image message -> Frame + Header: stale check, ``camera_frame``, latest K,
    running index) and :meth:`camera_info` run in the node's callbacks; :meth:`process`
    (Estimator, then every output message) in its worker. Both raise a
    :class:`BadInputError` subclass for bad input.
    """

    def __init__(self, params: NodeParams) -> None:
        self.params = params
        self.estimator = Estimator.from_config(params.core_config())
        self.outputs = OutputBuilder(params, self.estimator.body_model)
        self.images = 0  # image messages seen, good or bad (the next frame's index)
        self._K: Optional[np.ndarray] = None
        self._last_stamp_ns: Optional[int] = None

    def camera_info(self, msg: CameraInfo) -> None:
        """Use ``msg``'s K for the following images."""
        self._K = camera_info_to_K(msg)

    def intake(self, msg: Image | CompressedImage) -> tuple[Frame, Header]:
        """Count, check and convert one image message (the header carries the outputs' stamp)."""
        self.images += 1
        t_ns = stamp_ns(msg.header.stamp)
        if self._last_stamp_ns is not None and t_ns < self._last_stamp_ns:
            raise StaleImageError(f"image stamp {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d} is "
                                  "older than the last image's; skipped (is the source looping or a bag "
                                  "replaying without --clock?)")
        header = copy_header(msg.header, self.params.camera_frame or None)
        frame = image_to_frame(msg, K=self._K, index=self.images - 1, frame_id=header.frame_id)
        self._last_stamp_ns = t_ns
        return frame, header

    def process(self, frame: Frame, header: Header) -> FrameOutputs:
        """Run the estimator on one frame and build every output message."""
        obs = self.estimator.observe(frame)
        persons = self.estimator.finish(obs)
        return self.outputs.build(frame, header, persons, obs.dead_track_ids, obs.K)


class MocapNode(Node):
    """Adapter between camera topics and the core :class:`Estimator` (see module docstring)."""

    def __init__(self, *, node_name: str = "robosmplx", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.params = declare_parameters(self)
        self.processor = FrameProcessor(self.params)
        self.estimator = self.processor.estimator
        self.outputs = OutputPublisher(self, self.processor.outputs)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._lock = threading.Lock()
        self._last_warn: dict[str, float] = {}
        self._last = {"persons": 0, "latency_ms": 0.0}
        self._rate = (time.monotonic(), 0)  # (start, frames processed then) for fps
        self._slot = LatestFrameSlot()
        self._stop = threading.Event()
        self._diag_pub = None
        if DiagnosticArray is not None:
            self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
            self.create_timer(self.params.diagnostics_period_s, self._publish_diagnostics)
        else:
            self.get_logger().warning("diagnostic_msgs is not importable: no /diagnostics "
                                      "(pip install ros-kilted-diagnostic-msgs)")
        self._worker = threading.Thread(target=self._work, name="robosmplx-worker", daemon=True)
        self._worker.start()
        if self.params.image_transport == "compressed":
            self.create_subscription(CompressedImage, "image/compressed", self._on_image, qos_profile_sensor_data)
        else:
            self.create_subscription(Image, "image", self._on_image, qos_profile_sensor_data)
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos_profile_sensor_data)
        self.get_logger().info(f"ready: subscribed to {self.resolve_topic_name('image')} "
                               f"({self.params.image_transport}), publishing {self.resolve_topic_name('~/persons')}")

    # -- callbacks (executor thread): convert and hand over, nothing else ------------------
    def _on_image(self, msg: Image | CompressedImage) -> None:
        self._count("frames_received")
        try:
            frame, header = self.processor.intake(msg)
        except BadInputError as exc:
            self._bad(exc)
            return
        if self._slot.put((frame, header, time.monotonic())):
            self._count("frames_dropped")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.processor.camera_info(msg)
        except BadInputError as exc:
            self._bad(exc)

    # -- worker thread ----------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._slot.take(0.1)
            if item is None:
                continue
            try:
                self._process(*item)
            except Exception as exc:  # keep running; a bug shows in the log and the counter
                if self._stop.is_set():
                    return
                self._count("processing_errors")
                self._warn("processing_errors", f"processing an image failed: {type(exc).__name__}: {exc}")

    def _process(self, frame: Frame, header: Header, t_received: float) -> None:
        outputs = self.processor.process(frame, header)
        self.outputs.publish(outputs)
        with self._lock:
            self.counters["frames_processed"] += 1
            self._last = {"persons": len(outputs.persons), "latency_ms": (time.monotonic() - t_received) * 1e3}

    # -- counters, warnings, diagnostics ----------------------------------------------------
    def _count(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    def _bad(self, exc: BadInputError) -> None:
        self._count(exc.kind)
        self._warn(exc.kind, f"skipped bad input ({exc.kind}): {exc}")

    def _warn(self, kind: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last_warn.get(kind, -np.inf) >= self.params.warn_throttle_s:
            self._last_warn[kind] = now
            self.get_logger().warning(text)

    def diagnostics_values(self) -> dict[str, str]:
        """Counters, fps since the last call, last latency and per-stage milliseconds."""
        with self._lock:
            counters, last = dict(self.counters), dict(self._last)
        now = time.monotonic()
        t0, n0 = self._rate
        self._rate = (now, counters["frames_processed"])
        fps = (counters["frames_processed"] - n0) / max(now - t0, 1e-9)
        t = self.estimator.last_timings
        values = {k: str(v) for k, v in counters.items()}
        values.update(fps=f"{fps:.2f}", persons=str(last["persons"]), latency_ms=f"{last['latency_ms']:.1f}",
                      **{f"{k}": f"{getattr(t, k):.1f}" for k in
                         ("detect_ms", "track_ms", "landmarks_ms", "solve_ms", "body_model_ms", "smooth_ms", "total_ms")})
        return values

    def _publish_diagnostics(self) -> None:
        values = self.diagnostics_values()
        bad = sum(int(values[k]) for k in COUNTERS[3:])
        level = DiagnosticStatus.OK if values["frames_received"] != "0" else DiagnosticStatus.WARN
        message = (f"{values['fps']} fps, {values['persons']} persons, {values['frames_dropped']} dropped, "
                   f"{bad} bad inputs" if level == DiagnosticStatus.OK else "no images received yet")
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: pipeline", message=message,
                                  hardware_id=self.get_fully_qualified_name(),
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        self._diag_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))

    def destroy_node(self) -> None:
        """Stop the worker (finishing the image in hand), then destroy the node."""
        self._stop.set()
        self._slot.close()
        self._worker.join(timeout=10.0)
        super().destroy_node()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console script ``robosmplx-node``; ROS arguments after ``--ros-args``."""
    use_pipeline_threads()
    rclpy.init(args=list(sys.argv if argv is None else argv))
    node = None
    try:
        node = MocapNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError) as exc:  # bad parameters / config: say why, exit 2
        print(f"robosmplx-node: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
