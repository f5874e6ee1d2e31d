"""Landmark -> SMPL-X solver time per person on this CPU (median of repeated runs), JSON out.

    .venv/bin/python benchmarks/solver_speed.py [--out FILE] [--runs 300] [key=value ...]

Cases: real MediaPipe Holistic landmarks of messi5.jpg (body, both hands, face), the same
without hands and face, and exact synthetic landmarks of a sampled body. Reports wall-clock
and process CPU time (CPU > wall would mean a library thread spinning beside the solver) and,
for context on a shared machine, the median time of a trivial numpy call and the load
average. Goal (issue): 3 ms per person. This script reports; it never fails on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from robosmplx_core.body_model import BodyModel
from robosmplx_core.config import load_config
from robosmplx_core.estimate.holistic import HolisticPool
from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.estimate.solver import LandmarkSolver
from robosmplx_core.estimate.solver.synthetic import sample_params, synthetic_person
from robosmplx_core.geometry import default_intrinsics
from robosmplx_core.media import sample_path

GOAL_MS = 3.0
MESSI_BOX_XYXY = np.array([60.0, 20.0, 420.0, 342.0], np.float32)


def messi_landmarks() -> tuple[PersonLandmarks, np.ndarray]:
    """Holistic landmarks of messi5.jpg and the default intrinsics of that image."""
    image = cv2.cvtColor(cv2.imread(str(sample_path("messi5.jpg")), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    pool = HolisticPool()
    landmarks = pool.process(image, 0, MESSI_BOX_XYXY)
    pool.reset()
    if landmarks is None:
        raise RuntimeError("MediaPipe Holistic found no person on messi5.jpg")
    return landmarks, default_intrinsics(image.shape[1], image.shape[0]).double().numpy()


def time_solve(solver: LandmarkSolver, landmarks: PersonLandmarks, K: np.ndarray, runs: int) -> dict:
    """Median / p10 / p90 wall and median CPU milliseconds of ``runs`` solves after 10 warm-ups."""
    for _ in range(10):
        solver.solve(landmarks, K)
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        solver.solve(landmarks, K)
        cpu.append((time.process_time() - c) * 1e3)
        wall.append((time.perf_counter() - w) * 1e3)
    wall.sort()
    return {"median_ms": round(statistics.median(wall), 3), "p10_ms": round(wall[len(wall) // 10], 3),
            "p90_ms": round(wall[9 * len(wall) // 10], 3), "cpu_median_ms": round(statistics.median(cpu), 3),
            "runs": runs}


def numpy_call_us() -> float:
    """Median time of one tiny numpy addition (the per-call overhead the solver is made of)."""
    a = np.zeros(3)
    samples = []
    for _ in range(20000):
        t = time.perf_counter()
        np.add(a, a)
        samples.append(time.perf_counter() - t)
    return round(statistics.median(samples) * 1e6, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/solver_speed.json"))
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("overrides", nargs="*", metavar="key=value")
    args = ap.parse_args()
    cfg = load_config(None, args.overrides)
    model = BodyModel.from_config(cfg.body_model)
    solver = LandmarkSolver.from_body_model(model)
    messi, K_messi = messi_landmarks()
    K_synth = default_intrinsics(1280, 720).double().numpy()
    synthetic = synthetic_person(model, sample_params(model, np.random.default_rng(0)), K_synth).landmarks
    cases = {
        "messi5_body_hands_face": (messi, K_messi),
        "messi5_body_only": (dataclasses.replace(messi, left_hand_px=None, right_hand_px=None, face_px=None), K_messi),
        "synthetic_body_hands_face": (synthetic, K_synth),
    }
    results = []
    for name, (landmarks, K) in cases.items():
        results.append({"case": name, **time_solve(solver, landmarks, K, args.runs)})
        r = results[-1]
        print(f"{name:28s} median {r['median_ms']:6.2f} ms  (p10 {r['p10_ms']:.2f}, p90 {r['p90_ms']:.2f}, "
              f"cpu {r['cpu_median_ms']:.2f})")
    call_us = numpy_call_us()
    print(f"tiny numpy call: {call_us} us; load average {os.getloadavg()[0]:.2f}")
    report = {
        "benchmark": "solver_speed",
        "model": "stand-in" if model.is_standin else str(model.model_file),
        "numpy": np.__version__, "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2), "numpy_call_us": call_us,
        "goal": f"median per person under {GOAL_MS} ms",
        "goal_met": results[0]["median_ms"] < GOAL_MS,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
