"""Body model forward time on this CPU at batch 1 and 32 (median of repeated runs), JSON out.

    .venv/bin/python benchmarks/body_model_speed.py [--out FILE] [--runs 50] [key=value ...]

Goal (issue 2): batch 1 under 10 ms. This script reports; it never fails on time.
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
from robosmplx_core.config import load_config
from robosmplx_core.types import SMPLXParams


def time_forward(model: BodyModel, batch: int, runs: int, *, grad: bool, joints_only: bool = False) -> list[float]:
    """Wall times (ms) of `runs` forward passes (+ backward when grad) after 5 warm-ups;
    ``joints_only`` times ``model.joints`` (the pipeline's path) instead of the full mesh."""
    g = torch.Generator().manual_seed(0)
    params = SMPLXParams.from_axis_angle(
        global_orient=0.3 * torch.randn(batch, 3, generator=g),
        body_pose=0.3 * torch.randn(batch, 21, 3, generator=g),
        left_hand_pose=0.2 * torch.randn(batch, 15, 3, generator=g),
        right_hand_pose=0.2 * torch.randn(batch, 15, 3, generator=g),
        betas=torch.randn(batch, model.num_betas, generator=g),
        expression=torch.randn(batch, model.num_expression, generator=g),
    )
    if grad:
        params = SMPLXParams(**{k: v.clone().requires_grad_(True) for k, v in vars(params).items()})
    times = []
    for i in range(runs + 5):
        t0 = time.perf_counter()
        if grad:
            model(params).vertices.sum().backward()
        else:
            with torch.no_grad():
                model.joints(params) if joints_only else model(params)
        if i >= 5:
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/body_model_speed.json"))
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("overrides", nargs="*", metavar="key=value")
    args = ap.parse_args()
    cfg = load_config(None, args.overrides)
    model = BodyModel.from_config(cfg.body_model)
    results = []
    for batch in (1, 32):
        for grad, joints_only in ((False, False), (True, False), (False, True)):
            t = time_forward(model, batch, args.runs, grad=grad, joints_only=joints_only)
            results.append({"batch": batch, "backward": grad, "joints_only": joints_only,
                            "median_ms": round(statistics.median(t), 3),
                            "p10_ms": round(sorted(t)[len(t) // 10], 3), "p90_ms": round(sorted(t)[9 * len(t) // 10], 3),
                            "runs": len(t)})
            what = "joints only (no_grad)" if joints_only else ("forward+backward" if grad else "forward (no_grad)")
            print(f"batch {batch:2d} {what:22s} "
                  f"median {results[-1]['median_ms']:7.2f} ms  (p10 {results[-1]['p10_ms']:.2f}, p90 {results[-1]['p90_ms']:.2f})")
    report = {
        "benchmark": "body_model_speed",
        "model": "stand-in" if model.is_standin else str(model.model_file),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "goal": "batch 1 forward under 10 ms",
        "goal_met": next(r for r in results if r["batch"] == 1 and not r["backward"]
                         and not r["joints_only"])["median_ms"] < 10.0,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
