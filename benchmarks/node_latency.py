"""ROS 2 node latency (image published -> ~/persons received) against the library in-process.

    .venv/bin/python benchmarks/node_latency.py [--out FILE] [--vtest-frames 30] [--messi-frames 30]
                                                [--repeats 2] [--skip 3]

One frame sequence: the first ``--vtest-frames`` frames of vtest.avi (768 x 576, 0-4 persons,
stamps at 10 fps), then messi5.jpg (548 x 342, one person) ``--messi-frames`` times (stamps at
30 fps, 10 s later, so vtest's tracks have expired), ``--repeats`` times (stamps 100 s apart).

Per node configuration, a fresh ``python -m robosmplx_ros.node`` subprocess and a fresh library
``Estimator`` (same config) in this process take the sequence frame by frame in turn (which one
goes first alternates: going second was ~10 % slower here), so both see the same machine state
and neither computes while the other does:

- node: this process publishes camera_info + the Image (messages built beforehand, as a camera
  driver does) and waits for the SMPLXPersonArray with that stamp before going on, so nothing
  is dropped and nothing queues. Latency = publish call -> ~/persons callback (one clock);
- library: ``estimator(frame)`` on the same image, stamp and K. Time per call.

Node configurations: ``default`` (every output: persons, JointState, URDF, /tf, skeleton and
mesh markers, diagnostics) and ``persons_only`` (the optional outputs off), which splits
transport + conversion from the cost of the extra outputs.
The first ``--skip`` frames of each clip are left out on both sides (MediaPipe instances start).
Reported: median and p95 per clip and over both, and ratio = median node latency / median
library time (goal <= 1.15, i.e. transport + conversion + output overhead <= 15 %).
Without a ROS_DOMAIN_ID one is picked from the process id; DDS stays on this host
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) with config/fastdds_local.xml and logs in the repo,
as `make` sets them (``robosmplx_ros.testing``, which also starts and stops the node, as the
node tests do).
JSON out; never fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import time
from pathlib import Path
from typing import Optional

from robosmplx_ros.testing import node_process, use_local_ros_env  # imports neither rclpy nor numpy

REPO = Path(__file__).resolve().parents[1]
# Before rclpy and numpy start: keep DDS on this host, logs in the repo, the large-message
# profile, one OpenBLAS thread (the Makefile exports the same); the node subprocess inherits them.
use_local_ros_env(repo=REPO)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from robosmplx.msg import SMPLXPersonArray  # noqa: E402
from robosmplx_core.config import load_config  # noqa: E402
from robosmplx_core.geometry.projection import default_intrinsics  # noqa: E402
from robosmplx_core.media import sample_path  # noqa: E402
from robosmplx_core.pipeline import Estimator  # noqa: E402
from robosmplx_core.types import Frame  # noqa: E402
from robosmplx_core.threads import use_pipeline_threads  # noqa: E402
from robosmplx_ros.video_source import camera_info_msg, image_to_msg  # noqa: E402

NODE_NAME = "robosmplx_bench"
FRAME_ID = "bench_camera_optical"
RESULT_TIMEOUT_S = 20.0
GOAL_RATIO = 1.15
NODE_CONFIGS = {
    "default": [],
    "persons_only": ["publish_joint_states:=false", "publish_tracked:=false", "publish_urdf:=false",
                     "publish_tf:=false", "publish_markers:=false", "publish_mesh:=false"],
}


def clip_frames(vtest_frames: int, messi_frames: int) -> list[tuple[str, np.ndarray, float]]:
    """(clip, (H, W, 3) uint8 RGB, stamp_s) for one repeat, stamps from 0."""
    cap = cv2.VideoCapture(str(sample_path("vtest.avi")))
    out = []
    while len(out) < vtest_frames:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(("vtest", np.ascontiguousarray(bgr[:, :, ::-1]), len(out) / 10.0))
    cap.release()
    messi = np.ascontiguousarray(cv2.imread(str(sample_path("messi5.jpg")))[:, :, ::-1])
    start = len(out) / 10.0 + 10.0
    out += [("messi5", messi, start + i / 30.0) for i in range(messi_frames)]
    return out


def intrinsics(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.asarray(default_intrinsics(w, h), np.float64)


def to_time(stamp_s: float) -> Time:
    ns = int(round(stamp_s * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class Bench:
    """Publishes one image at a time and times until its ~/persons (and ~/markers) arrive."""

    def __init__(self) -> None:
        self.node = Node("robosmplx_bench_probe")
        self.image_pub = self.node.create_publisher(Image, "image", qos_profile_sensor_data)
        self.info_pub = self.node.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self.persons: dict[tuple[int, int], tuple[float, frozenset]] = {}  # stamp -> (time, track ids)
        self.markers: dict[tuple[int, int], float] = {}
        self.node.create_subscription(SMPLXPersonArray, f"/{NODE_NAME}/persons", self._on_persons, 10)
        self.node.create_subscription(MarkerArray, f"/{NODE_NAME}/markers", self._on_markers, 10, raw=True)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)

    def _on_persons(self, msg: SMPLXPersonArray) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.persons[key] = (time.perf_counter(), frozenset(p.track_id for p in msg.persons))

    def _on_markers(self, raw: bytes) -> None:
        # CDR: 4-byte encapsulation, uint32 marker count, then markers[0].header.stamp (sec, nanosec);
        # every marker of one message carries the image's stamp. Not deserialized: meshes are MBs.
        count, sec, nanosec = struct.unpack_from("<IiI", raw, 4)
        if count:
            self.markers[(sec, nanosec)] = time.perf_counter()

    def clear(self) -> None:
        self.persons.clear()
        self.markers.clear()

    def spin_until(self, done, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done():
                return True
            self.executor.spin_once(timeout_sec=0.01)
        return done()

    def latency_ms(self, image: Image, info: CameraInfo, *, markers: bool,
                   previous_ids: frozenset) -> tuple[Optional[float], Optional[float], frozenset]:
        """Publish camera_info + image. Returns ms until its ~/persons arrived (None: lost),
        ms until its ~/markers arrived (None: not published or not expected), and its track ids.
        With ``markers`` the node publishes markers after every other output, so waiting for
        them (when the node sends some: persons in view, or deletes for persons gone) means
        the node has finished this image."""
        key = (image.header.stamp.sec, image.header.stamp.nanosec)
        self.info_pub.publish(info)
        t0 = time.perf_counter()
        self.image_pub.publish(image)
        if not self.spin_until(lambda: key in self.persons, RESULT_TIMEOUT_S):
            return None, None, previous_ids
        t_persons, ids = self.persons[key]
        t_markers = None
        if markers and (ids or previous_ids - ids) and self.spin_until(lambda: key in self.markers, 5.0):
            t_markers = (self.markers[key] - t0) * 1e3
        return (t_persons - t0) * 1e3, t_markers, ids


def library_ms(estimator: Estimator, frame: Frame) -> float:
    t0 = time.perf_counter()
    estimator(frame)
    return (time.perf_counter() - t0) * 1e3


def run_pass(bench: Bench, params: list[str], frames: list, repeats: int, log_path: Path) -> tuple[list, list, list]:
    """One node configuration against a fresh library ``Estimator``, frame by frame in turn
    (each sees the same machine state; neither computes while the other does). Returns per
    repeat [(clip, ms to ~/persons or None)], [(clip, ms to ~/markers or None)] and
    [(clip, library ms)]."""
    bench.clear()  # stamps repeat between passes
    markers = not any(p.startswith("publish_markers:=false") for p in params)
    estimator = Estimator.from_config(load_config(None, []))
    with node_process(log_path, "diagnostics_period_s:=5.0", *params, node_name=NODE_NAME, repo=REPO) as proc:
        ready = lambda: bench.image_pub.get_subscription_count() > 0 and proc.poll() is None  # noqa: E731
        if not bench.spin_until(ready, 60.0):
            raise RuntimeError(f"the node did not start; see {log_path}")
        bench.spin_until(lambda: False, 0.5)  # let discovery finish both ways
        node_runs, markers_runs, library_runs = [], [], []
        ids: frozenset = frozenset()
        for r in range(repeats):
            node_rows, markers_rows, library_rows = [], [], []
            for i, (clip, rgb, stamp_s) in enumerate(frames):
                stamp = to_time(r * 100.0 + stamp_s)
                h, w = rgb.shape[:2]
                K = intrinsics(rgb)
                image = image_to_msg(rgb, stamp=stamp, frame_id=FRAME_ID)
                info = camera_info_msg(w, h, K, stamp=stamp, frame_id=FRAME_ID)
                frame = Frame(rgb, stamp_s=r * 100.0 + stamp_s, K=K, frame_id=FRAME_ID, index=i)
                library_first = i % 2 == 1  # alternate: which one goes first matters by ~10 % here
                if library_first:
                    library_rows.append((clip, library_ms(estimator, frame)))
                persons_ms, markers_ms, ids = bench.latency_ms(image, info, markers=markers, previous_ids=ids)
                node_rows.append((clip, persons_ms))
                markers_rows.append((clip, markers_ms))
                if not library_first:
                    library_rows.append((clip, library_ms(estimator, frame)))
            node_runs.append(node_rows)
            markers_runs.append(markers_rows)
            library_runs.append(library_rows)
        return node_runs, markers_runs, library_runs


def summary(values: list[float]) -> dict:
    if not values:
        return {"frames": 0}
    values = sorted(values)
    return {"frames": len(values), "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(values[int(0.95 * (len(values) - 1))], 2)}


def ratio(node: dict, library: dict) -> Optional[float]:
    if not (node.get("median_ms") and library.get("median_ms")):
        return None
    return round(node["median_ms"] / library["median_ms"], 3)


def compare(node_runs: list, markers_runs: list, library_runs: list, clip: Optional[str], skip: int) -> dict:
    """Node vs library over every repeat's frames of ``clip`` (None: both clips) after ``skip``.
    ``persons``: ms to ~/persons, frames where it arrived; ``all_outputs``: ms to ~/markers,
    the node's last output, on the frames that have markers; library times on the same frames."""
    rows = []
    for node_rows, markers_rows, library_rows in zip(node_runs, markers_runs, library_runs):
        seen: dict[str, int] = {}
        for (c, persons_ms), (_, markers_ms), (_, library_ms) in zip(node_rows, markers_rows, library_rows):
            seen[c] = seen.get(c, 0) + 1
            if (clip is None or c == clip) and seen[c] > skip:
                rows.append((persons_ms, markers_ms, library_ms))
    out = {"library": summary([lib for _, _, lib in rows]),
           "persons": summary([p for p, _, _ in rows if p is not None]),
           "lost": sum(p is None for p, _, _ in rows)}
    out["ratio"] = ratio(out["persons"], summary([lib for p, _, lib in rows if p is not None]))
    out["goal_met"] = out["ratio"] is not None and out["ratio"] <= GOAL_RATIO
    with_markers = [(m, lib) for _, m, lib in rows if m is not None]
    if with_markers:
        node_all, lib_all = summary([m for m, _ in with_markers]), summary([lib for _, lib in with_markers])
        out["all_outputs"] = {"node": node_all, "library_same_frames": lib_all, "ratio": ratio(node_all, lib_all)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/node_latency.json"))
    ap.add_argument("--vtest-frames", type=int, default=30)
    ap.add_argument("--messi-frames", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip", type=int, default=3, help="frames left out at the start of each clip")
    args = ap.parse_args()
    use_pipeline_threads()  # as the CLI and the node do
    frames = clip_frames(args.vtest_frames, args.messi_frames)
    load_before = os.getloadavg()
    rclpy.init()
    try:
        bench = Bench()
        passes = {name: run_pass(bench, params, frames, args.repeats, args.out.parent / f"node_latency_{name}.log")
                  for name, params in NODE_CONFIGS.items()}
        bench.node.destroy_node()
    finally:
        rclpy.try_shutdown()

    report = {"benchmark": "node_latency", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
              "frames_per_repeat": {"vtest": args.vtest_frames, "messi5": args.messi_frames},
              "repeats": args.repeats, "skipped_per_clip": args.skip,
              "goal": f"ratio = node median ms to ~/persons / library median ms <= {GOAL_RATIO}"}
    for name, runs in passes.items():
        report[f"node_{name}"] = entry = {}
        for clip in ("vtest", "messi5", None):
            c = entry[clip or "all"] = compare(*runs, clip, args.skip)
            extra = (f"; all outputs (to ~/markers) {c['all_outputs']['node'].get('median_ms')} ms vs library "
                     f"{c['all_outputs']['library_same_frames'].get('median_ms')} ms, ratio {c['all_outputs']['ratio']}"
                     if "all_outputs" in c else "")
            print(f"node {name}, {clip or 'all'}: to ~/persons median {c['persons'].get('median_ms')} ms "
                  f"p95 {c['persons'].get('p95_ms')} ms (lost {c['lost']}); library median "
                  f"{c['library'].get('median_ms')} ms p95 {c['library'].get('p95_ms')} ms; ratio {c['ratio']}{extra}")
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
