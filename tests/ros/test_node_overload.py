"""The node under overload for a minute: images published several times faster than the node
can process them, by this process (so every published stamp and its time is known); the node
is a real subprocess (``python -m robosmplx_ros.node``).

Checked per scene: the node's memory stays flat, latency stays bounded, every frame it could
not process is counted as dropped in /diagnostics, and what it processes is the newest frame,
not a backlog. Two scenes, about 75 s each (``make test-slow``):

- ``one_person``: messi5.jpg swaying sideways at 60 Hz (~5x the node's ~12 fps). The person
  stays in view, so the set of tracks (and MediaPipe instances) is constant and the memory check
  measures the node's own overload path.
- ``crowd``: vtest.avi at its own 10 fps on a 30 Hz stream (each frame published 3 times with
  fresh stamps; ~6-7x the node's 4-5 fps). People come and go: dozens of tracks are born and
  removed in a minute. ``HolisticPool`` holds at most ``pipeline.max_tracking_instances``
  (default 4) MediaPipe instances in tracking mode (~200 MB each) plus one shared single-image
  instance for further tracks, resets and reuses the instances of removed tracks, and hands
  freed native memory back with ``malloc_trim``. Before the cap, RSS rose with the peak number
  of people in view (2159 -> 2548 MB in a minute); with it, RSS moves by about +-100 MB as
  MediaPipe's sub-models allocate and free buffers, with no trend.

Memory "flat": the median RSS of the last 15 s against that of 15-30 s into the run (medians of
15 one-second samples each, so one allocation burst at either end does not decide it; a leak or a pool that
keeps growing shows as a difference), within RSS_GROWTH_LIMIT_MB.
"""

from __future__ import annotations

import bisect
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

import cv2
import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from robosmplx.msg import SMPLXPersonArray
from robosmplx_core.media import sample_path
from robosmplx_ros.convert import rgb_to_image
from robosmplx_ros.node import COUNTERS
from tests.ros.node_probe import CAMERA_FRAME, camera_info, node_process

pytestmark = pytest.mark.slow

NODE_NAME = "robosmplx_overload"
RUN_S = 60.0               # measured part, after the first result (MediaPipe start-up excluded)
RSS_FROM_S = 15.0          # memory: median over [RSS_FROM_S, RSS_FROM_S + RSS_WINDOW_S] vs the last window
RSS_WINDOW_S = 15.0
RSS_GROWTH_LIMIT_MB = 50.0
MIN_OVERLOAD = 2.0         # published / processed must be at least this, or the test tests nothing
# Latency bound (header stamp -> ~/persons received). With the latest-frame slot an image waits
# at most one processing period P in the slot, then takes P to process: latency <= 2 P plus
# transport (ms). P is 0.08 s (one person) to 0.15-0.5 s (vtest.avi, 0-4 persons at ~45 ms each
# in MediaPipe, plus meshes) on 2 cores shared with this publisher, so 2 P <= 1 s; measured p95
# 0.13 s and 0.53-0.60 s. 2 s leaves room for a slower or busier machine. A node that queued frames
# instead of dropping them would pass it within seconds: at 5x overload a queue's wait grows by
# 0.8 s every second.
LATENCY_P95_LIMIT_S = 2.0
# Newest frame: when the worker takes its next frame (right after publishing the previous
# result) that frame should be the newest one published then, give or take DDS delivery and the
# node's executor thread converting it (it shares the GIL with the worker). "Excess" = how much
# older it is. Measured: median <= 0, p95 <= 0.032 s (one publish period), max 0.036 s. A FIFO of
# d frames shows (d - 1) publish periods for every frame, so the median must stay within 1.5
# periods; NEWEST_FRACTION of the frames within NEWEST_SLACK_S (~10 periods) bounds stalls.
NEWEST_MEDIAN_PERIODS = 1.5
NEWEST_SLACK_S = 0.35
NEWEST_FRACTION = 0.95


class MemoryGrowth(AssertionError):
    """RSS grew by more than RSS_GROWTH_LIMIT_MB (its own type so an expected failure of the
    memory check cannot hide a failure of any other check)."""


class ImageStream(Protocol):
    def next_image(self) -> Image: ...
    def size(self) -> tuple[int, int]: ...
    def close(self) -> None: ...


class VideoLoop:
    """Image messages of a video at its own frame rate on a faster stream: each decoded frame is
    used for ``repeat`` consecutive messages; the video starts again at its end."""

    def __init__(self, path: Path, repeat: int) -> None:
        self.path, self.repeat = path, repeat
        self._cap = cv2.VideoCapture(str(path))
        self._msg: Optional[Image] = None
        self._calls = 0

    def next_image(self) -> Image:
        if self._calls % self.repeat == 0 or self._msg is None:
            ok, bgr = self._cap.read()
            if not ok:  # end of the video: loop
                self._cap.release()
                self._cap = cv2.VideoCapture(str(self.path))
                ok, bgr = self._cap.read()
            assert ok, f"cannot decode {self.path}"
            self._msg = rgb_to_image(np.ascontiguousarray(bgr[:, :, ::-1]), Header(frame_id=CAMERA_FRAME))
        self._calls += 1
        return self._msg

    def size(self) -> tuple[int, int]:
        return int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def close(self) -> None:
        self._cap.release()


class SwayingImage:
    """One still image swaying sideways (a sine of ``amplitude_px`` over ``period`` messages):
    a person who stays in view and moves, so the tracker keeps one track."""

    def __init__(self, path: Path, *, amplitude_px: float = 20.0, period: int = 60) -> None:
        rgb = np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])
        h, w = rgb.shape[:2]
        self._size = (w, h)
        self._msgs = []
        for k in range(period):
            shift = np.float32([[1, 0, amplitude_px * np.sin(2 * np.pi * k / period)], [0, 1, 0]])
            moved = cv2.warpAffine(rgb, shift, (w, h), borderMode=cv2.BORDER_REPLICATE)
            self._msgs.append(rgb_to_image(moved, Header(frame_id=CAMERA_FRAME)))
        self._calls = 0

    def next_image(self) -> Image:
        self._calls += 1
        return self._msgs[(self._calls - 1) % len(self._msgs)]

    def size(self) -> tuple[int, int]:
        return self._size

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Scene:
    rate_hz: float
    make_stream: Callable[[], ImageStream]


SCENES = {
    "one_person": Scene(60.0, lambda: SwayingImage(sample_path("messi5.jpg"))),
    "crowd": Scene(30.0, lambda: VideoLoop(sample_path("vtest.avi"), repeat=3)),
}


@dataclass
class Recording:
    published_ns: list[int] = field(default_factory=list)             # stamps = wall time at publish
    results: list[tuple[int, int, int]] = field(default_factory=list)  # (received ns, stamp ns, persons)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)   # (s into the run, VmRSS MB)
    diagnostics: list[dict[str, str]] = field(default_factory=list)


def vm_rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0  # kB
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


class Feeder:
    """Publishes image + camera_info at a steady rate (stamps: wall clock) and records the
    node's ~/persons and /diagnostics, all from this thread."""

    def __init__(self, stream: ImageStream) -> None:
        self.node = Node("robosmplx_overload_feeder")
        self.image_pub = self.node.create_publisher(Image, "image", qos_profile_sensor_data)
        self.info_pub = self.node.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self.stream = stream
        self.info = camera_info(*stream.size(), Header(frame_id=CAMERA_FRAME))
        self.rec = Recording()
        self.node.create_subscription(SMPLXPersonArray, f"/{NODE_NAME}/persons", self._on_persons, 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)

    def _on_persons(self, msg: SMPLXPersonArray) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.rec.results.append((time.time_ns(), stamp, len(msg.persons)))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id == f"/{NODE_NAME}":
                self.rec.diagnostics.append({kv.key: kv.value for kv in status.values})

    def publish_next(self) -> None:
        now_ns = time.time_ns()
        stamp = Time(sec=now_ns // 1_000_000_000, nanosec=now_ns % 1_000_000_000)
        image = self.stream.next_image()
        image.header.stamp = self.info.header.stamp = stamp  # publish() serializes: reuse is safe
        self.info_pub.publish(self.info)
        self.image_pub.publish(image)
        self.rec.published_ns.append(now_ns)

    def run(self, seconds: float, rate_hz: float, *, until: Optional[Callable[[], bool]] = None,
            pid: Optional[int] = None) -> bool:
        """Publish at ``rate_hz`` for ``seconds`` (or until ``until()``), sampling ``pid``'s RSS
        every second; True if ``until`` became true."""
        period = 1.0 / rate_hz
        t0 = time.monotonic()
        next_pub, next_rss = t0, t0 if pid is not None else float("inf")
        while (now := time.monotonic()) < t0 + seconds:
            if until is not None and until():
                return True
            if now >= next_pub:
                self.publish_next()
                next_pub = max(next_pub + period, now)  # steady; no burst after a stall
            if now >= next_rss:
                self.rec.rss_mb.append((now - t0, vm_rss_mb(pid)))
                next_rss += 1.0
            self.executor.spin_once(timeout_sec=max(0.0, min(next_pub, next_rss) - time.monotonic()))
        return False

    def spin(self, seconds: float, until: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return until()


def settled(rec: Recording) -> bool:
    """The newest diagnostics account for every received image: processed, dropped or bad."""
    if not rec.diagnostics:
        return False
    v = {k: int(rec.diagnostics[-1][k]) for k in COUNTERS}
    not_images = ("frames_received", "frames_processed", "frames_dropped", "bad_camera_info")
    return v["frames_received"] == v["frames_processed"] + v["frames_dropped"] + sum(
        n for k, n in v.items() if k not in not_images)


def newest_frame_excess_s(published_ns: list[int], results: list[tuple[int, int, int]]) -> list[float]:
    """Per processed frame k (k >= 1): how much older its stamp is than the newest image
    published when result k-1 arrived (about when the worker took frame k). <= 0: the worker
    took the newest image (or a newer one); a backlog shows as a positive excess."""
    out = []
    for (r_prev, _, _), (_, s_k, _) in zip(results, results[1:]):
        i = bisect.bisect_right(published_ns, r_prev) - 1
        if i >= 0:
            out.append((published_ns[i] - s_k) / 1e9)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


def record_overload(scene: Scene, log: Path) -> tuple[Recording, int, int]:
    """Start the node, warm it up, publish for RUN_S at the scene's rate, wait until the
    counters settle. Returns (recording, results before the run, images published in all)."""
    stream = scene.make_stream()
    with node_process(log, "diagnostics_period_s:=0.5", node_name=NODE_NAME) as proc:
        feeder = Feeder(stream)
        try:
            ready = lambda: feeder.image_pub.get_subscription_count() > 0  # noqa: E731
            assert feeder.spin(30.0, ready) and proc.poll() is None, f"node did not start\n{log.read_text()[-3000:]}"
            # warm-up: the first result includes MediaPipe's start-up; not measured
            assert feeder.run(60.0, scene.rate_hz, until=lambda: bool(feeder.rec.results)), \
                f"no ~/persons within 60 s\n{log.read_text()[-3000:]}"
            n_warm = len(feeder.rec.results)
            feeder.run(RUN_S, scene.rate_hz, pid=proc.pid)
            n_published = len(feeder.rec.published_ns)  # warm-up included, as in the node's counters
            assert feeder.spin(15.0, lambda: settled(feeder.rec)), \
                f"the counters do not account for every image: {feeder.rec.diagnostics[-1:]}"
            feeder.spin(0.5, lambda: False)  # the last ~/persons, should it come after the diagnostics
            assert proc.poll() is None, f"the node died\n{log.read_text()[-3000:]}"
        finally:
            feeder.node.destroy_node()
            stream.close()
    return feeder.rec, n_warm, n_published


@pytest.mark.parametrize("scene_name", ["one_person", "crowd"])
def test_node_under_overload(ros, tmp_path, scene_name: str) -> None:
    scene = SCENES[scene_name]
    rec, n_warm, n_published = record_overload(scene, tmp_path / "node.log")
    final = {k: int(rec.diagnostics[-1][k]) for k in COUNTERS}  # totals since the node started
    run = rec.results[n_warm:]
    latency_s = [(r - s) / 1e9 for r, s, _ in run]
    periods = [(b[0] - a[0]) / 1e9 for a, b in zip(run, run[1:])]
    excess = newest_frame_excess_s(rec.published_ns, rec.results[max(n_warm - 1, 0):])
    rss_start = statistics.median(mb for t, mb in rec.rss_mb if RSS_FROM_S <= t <= RSS_FROM_S + RSS_WINDOW_S)
    rss_end = statistics.median(mb for t, mb in rec.rss_mb if t >= rec.rss_mb[-1][0] - RSS_WINDOW_S)
    rss_every_5s = [round(mb) for t, mb in rec.rss_mb if round(t) % 5 == 0]
    summary = (f"{scene_name}: published {n_published} at {scene.rate_hz:g} Hz ({RUN_S:g} s + warm-up); "
               f"counters {final}; results in the run {len(run)}, median period {statistics.median(periods):.3f} s, "
               f"mean persons {np.mean([n for _, _, n in run]):.2f}; latency median "
               f"{statistics.median(latency_s):.3f} s p95 {p95(latency_s):.3f} s max {max(latency_s):.3f} s; "
               f"newest-frame excess median {statistics.median(excess):.3f} s p95 {p95(excess):.3f} s "
               f"max {max(excess):.3f} s; node RSS MB every 5 s {rss_every_5s}, median "
               f"{rss_start:.0f} at {RSS_FROM_S:g}-{RSS_FROM_S + RSS_WINDOW_S:g} s, {rss_end:.0f} in the last {RSS_WINDOW_S:g} s")
    print(summary)

    # it really was overloaded, and the node kept processing
    assert len(run) >= 20, summary
    assert n_published >= MIN_OVERLOAD * len(rec.results), summary  # both include the warm-up
    # latency bounded
    assert p95(latency_s) < LATENCY_P95_LIMIT_S, summary
    # drops counted: DDS delivered (nearly) every image; each one the node received was processed,
    # dropped from the latest-frame slot or counted as bad (record_overload waited for that);
    # the drops make up the overload
    assert final["processing_errors"] == 0 and final["stale_image"] == 0, summary
    assert final["frames_received"] >= 0.9 * n_published, summary
    assert final["frames_dropped"] >= (1 - 1 / MIN_OVERLOAD) * final["frames_received"], summary
    assert final["frames_processed"] == len(rec.results), summary  # every result reached us
    # the newest frame is processed, not a backlog
    period_s = 1.0 / scene.rate_hz
    assert statistics.median(excess) <= NEWEST_MEDIAN_PERIODS * period_s, summary
    assert sum(e <= NEWEST_SLACK_S for e in excess) >= NEWEST_FRACTION * len(excess), summary
    assert max(excess) < LATENCY_P95_LIMIT_S, summary
    # memory flat (last: an expected failure here must not skip the checks above)
    if rss_end - rss_start >= RSS_GROWTH_LIMIT_MB:
        raise MemoryGrowth(f"node RSS grew {rss_end - rss_start:.0f} MB (median of the last {RSS_WINDOW_S:g} s "
                           f"vs {RSS_FROM_S:g}-{RSS_FROM_S + RSS_WINDOW_S:g} s) "
                           f"(limit {RSS_GROWTH_LIMIT_MB:g}); {summary}")
