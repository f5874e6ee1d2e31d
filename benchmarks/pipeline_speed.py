"""Pipeline throughput against bare MediaPipe Holistic, multi-person cost, solver time.

    .venv/bin/python benchmarks/pipeline_speed.py [--frames 60] [--repeats 3] [--out FILE] [key=value ...]

1. Single person (messi5.jpg as a constant video, Holistic in tracking mode): median ms per
   frame of bare Holistic on the full frame vs the whole pipeline in streaming mode
   (``Estimator.stream``: detect + track + Holistic on the crop, overlapped with solver + body
   model + smoothing of the previous frame). Both run in the same process, alternating
   repeats, so the ratio is measured in one run. Goal: pipeline fps >= 0.8 x bare Holistic.
2. Multi-person (first --frames frames of vtest.avi): median ms per frame and per person.
3. Solver: median ms per person (from the pipeline's own stage timings).
4. Tracker + smoother: median ms per frame on vtest.avi (goal <= 1 ms), replayed alone on the
   detections and estimates recorded in part 2 (inside the pipeline they share the CPU with
   MediaPipe, which inflates their wall time).
JSON out; never fails on time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from robosmplx_core.config import load_config
from robosmplx_core.media import sample_path
from robosmplx_core.pipeline import Estimator
from robosmplx_core.smoothing import SmoothingStage
from robosmplx_core.track import ByteTracker
from robosmplx_core.types import Frame
from robosmplx_core.threads import use_pipeline_threads


def bare_holistic_ms(image: np.ndarray, frames: int) -> list[float]:
    """ms per frame of one Holistic instance (video mode) on the full image."""
    import mediapipe as mp

    times = []
    with mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1) as holistic:
        for i in range(frames + 5):
            t0 = time.perf_counter()
            holistic.process(image)
            if i >= 5:
                times.append((time.perf_counter() - t0) * 1e3)
    return times


def pipeline_ms(est: Estimator, images: list[np.ndarray], fps: float) -> tuple[list[float], list[int], list]:
    """ms between consecutive results of ``Estimator.stream`` (the streaming throughput),
    persons per frame and stage timings, after 5 warm-up frames."""
    est.reset()
    times, persons, stages = [], [], []
    frames = (Frame(image, stamp_s=i / fps, index=i) for i, image in enumerate(images))
    last = time.perf_counter()
    for frame, out, stage_ms in est.stream(frames):
        now = time.perf_counter()
        if frame.index >= 5:
            times.append((now - last) * 1e3)
            persons.append(len(out))
            stages.append(stage_ms)
        last = now
    return times, persons, stages


def replay_tracker_smoother(cfg, records: list) -> list[float]:
    """ms per frame of a fresh tracker + smoother on recorded (stamp, detections, persons)."""
    tracker, smoother = ByteTracker.from_config(cfg.tracker), SmoothingStage.from_config(cfg.smoothing)
    times = []
    for stamp, detections, persons in records:
        t0 = time.perf_counter()
        tracker.update(detections, stamp)
        smoother(persons, stamp)
        times.append((time.perf_counter() - t0) * 1e3)
    return times[5:]


def record_vtest(est: Estimator, frames: list[np.ndarray]) -> list:
    """(stamp, detector output, persons) per frame of the given vtest.avi frames."""
    est.reset()
    records = []
    for i, image in enumerate(frames):
        frame = Frame(image, stamp_s=i / 10.0, index=i)
        records.append((frame.stamp_s, est.detector(frame), est(frame)))
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/pipeline_speed.json"))
    ap.add_argument("overrides", nargs="*", metavar="key=value")
    args = ap.parse_args()
    use_pipeline_threads()  # as the CLI and the node do
    est = Estimator.from_config(load_config(None, args.overrides))
    messi = cv2.cvtColor(cv2.imread(str(sample_path("messi5.jpg"))), cv2.COLOR_BGR2RGB)
    bare, pipe, solve = [], [], []
    for r in range(args.repeats):  # alternate so both see the same machine state
        bare.append(statistics.median(bare_holistic_ms(messi, args.frames)))
        t, n, st = pipeline_ms(est, [messi] * (args.frames + 5), 30.0)
        pipe.append(statistics.median(t))
        solve += [s.solve_ms / max(k, 1) for s, k in zip(st, n) if k]
        print(f"repeat {r}: bare Holistic {bare[-1]:.1f} ms/frame, pipeline {pipe[-1]:.1f} ms/frame")
    cap = cv2.VideoCapture(str(sample_path("vtest.avi")))
    frames = []
    while len(frames) < args.frames + 5:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    t, n, st = pipeline_ms(est, frames, 10.0)
    per_person = [ms / k for ms, k in zip(t, n) if k]
    solve += [s.solve_ms / max(k, 1) for s, k in zip(st, n) if k]
    cfg = load_config(None, args.overrides)
    state_ms = replay_tracker_smoother(cfg, record_vtest(est, frames))
    ratio = statistics.median(bare) / statistics.median(pipe)
    report = {
        "benchmark": "pipeline_speed",
        "single_person": {"bare_holistic_ms": [round(x, 2) for x in bare], "pipeline_ms": [round(x, 2) for x in pipe],
                          "bare_holistic_fps": round(1e3 / statistics.median(bare), 2),
                          "pipeline_fps": round(1e3 / statistics.median(pipe), 2),
                          "throughput_ratio": round(ratio, 3), "goal": ">= 0.8", "goal_met": ratio >= 0.8},
        "multi_person_vtest": {"frames": len(t), "median_ms_per_frame": round(statistics.median(t), 2),
                               "mean_persons": round(float(np.mean(n)), 2),
                               "median_ms_per_person": round(statistics.median(per_person), 2) if per_person else None},
        "tracker_plus_smoother_ms_per_frame": {
            "replayed_alone_median": round(statistics.median(state_ms), 3),
            "in_pipeline_median": round(statistics.median([s.track_ms + s.smooth_ms for s in st]), 3),
            "mean_persons": round(float(np.mean(n)), 2),
            "goal": "<= 1 (replayed alone)", "goal_met": statistics.median(state_ms) <= 1.0},
        "solver_ms_per_person": {"median": round(statistics.median(solve), 3) if solve else None,
                                 "goal": "<= 3", "goal_met": bool(solve) and statistics.median(solve) <= 3.0},
    }
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
