"""Synthetic sample time on one thread (as in a DataLoader worker), per crop kind, JSON out.

    .venv/bin/python benchmarks/synthetic_speed.py [--out FILE] [--samples 20] [--size 256]

Goal (issue 5, item 7: "fast enough to generate on the fly"): about 50 ms a body sample at
256 px on one free core. Reports the median and the 90th percentile over ``--samples``
different samples (each is a different pose, camera and appearance); it never fails on time.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.nets.specs import PART_NAMES


def time_samples(ds: SyntheticDataset, count: int) -> list[float]:
    """Wall times (ms) of samples 1..count of ``ds`` after one warm-up (sample 0)."""
    ds[0]
    times = []
    for i in range(1, count + 1):
        t0 = time.perf_counter()
        ds[i]
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/synthetic_speed.json"))
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--size", type=int, default=256, help="crop side in pixels")
    args = ap.parse_args()
    if args.samples < 1:
        ap.error(f"--samples must be >= 1, got {args.samples}")
    torch.set_num_threads(1)
    model = BodyModel.load(use_face_contour=True)
    results = []
    for part in PART_NAMES:
        ds = SyntheticDataset(config=SyntheticConfig(seed=0, image_size=args.size, part=part), model=model)
        times = sorted(time_samples(ds, args.samples))
        row = {"part": part, "size": args.size, "samples": args.samples,
               "median_ms": round(statistics.median(times), 1),
               "p90_ms": round(times[min(len(times) - 1, int(0.9 * len(times)))], 1)}
        results.append(row)
        print(f"{part:5s} {args.size} px: median {row['median_ms']:.1f} ms, p90 {row['p90_ms']:.1f} ms "
              f"({args.samples} samples, 1 thread)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                    "torch": torch.__version__, "standin": model.is_standin,
                                    "results": results}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
