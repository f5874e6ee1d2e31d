"""Person detector time per frame on this CPU: median over the first 100 frames of vtest.avi, JSON out.

    .venv/bin/python benchmarks/detector_speed.py [--out FILE] [--frames 100] [--warmup 10]
                                                  [--num-threads N] [key=value ...]

Times one full ``detector(frame)`` call (resize to 300 x 300, ONNX Runtime, person selection,
NMS) on frames decoded beforehand, after ``--warmup`` untimed calls. Reference: about 8 ms per
frame on a desktop CPU (docs/notes). This script reports; it never fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from robosmplx_core.config import load_config
from robosmplx_core.detect import SSDLitePersonDetector
from robosmplx_core.media import sample_path
from robosmplx_core.types import Frame


def read_frames(count: int) -> list[Frame]:
    """The first ``count`` frames of vtest.avi (768 x 576, 10 fps) as RGB Frames."""
    cap = cv2.VideoCapture(str(sample_path("vtest.avi")))
    frames = []
    try:
        while len(frames) < count:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stamp_s=len(frames) / 10.0, index=len(frames)))
    finally:
        cap.release()
    if not frames:
        raise RuntimeError(f"could not decode {sample_path('vtest.avi')}")
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/detector_speed.json"))
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--num-threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: its own)")
    ap.add_argument("overrides", nargs="*", metavar="key=value",
                    help="config overrides, e.g. detector.score_threshold=0.5")
    args = ap.parse_args()
    cfg = load_config(None, args.overrides)
    detector = SSDLitePersonDetector.from_config(cfg.detector, num_threads=args.num_threads)
    frames = read_frames(args.frames)
    for i in range(args.warmup):
        detector(frames[i % len(frames)])
    times_ms, counts = [], []
    for frame in frames:
        t0 = time.perf_counter()
        dets = detector(frame)
        times_ms.append((time.perf_counter() - t0) * 1e3)
        counts.append(len(dets))
    ts = sorted(times_ms)
    report = {
        "benchmark": "detector_speed",
        "model": str(detector.model_path),
        "input": f"vtest.avi frames 0..{len(frames) - 1} ({frames[0].width}x{frames[0].height})",
        "median_ms": round(statistics.median(times_ms), 3),
        "p10_ms": round(ts[len(ts) // 10], 3),
        "p90_ms": round(ts[9 * len(ts) // 10], 3),
        "frames": len(frames),
        "warmup": args.warmup,
        "mean_persons": round(float(np.mean(counts)), 3),
        "num_threads": args.num_threads,
        "onnxruntime": onnxruntime.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    print(f"detector: median {report['median_ms']:.2f} ms/frame "
          f"(p10 {report['p10_ms']:.2f}, p90 {report['p90_ms']:.2f}) over {len(frames)} frames of vtest.avi; {report['mean_persons']:.2f} persons/frame; "
          f"{report['cpu_count']} CPUs, load {report['load_avg_1min']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
