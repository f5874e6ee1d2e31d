"""Soft rasteriser forward + backward time at 256 px for the stand-in SMPL-X mesh, JSON out.

    .venv/bin/python benchmarks/render_speed.py [--out FILE] [--runs 15] [--size 256] [--device cpu]
                                                [--threads 1 2]

The posed stand-in body (10475 vertices, 20870 faces) fills a square image; each case times
one forward pass plus ``loss.backward()`` to the vertices (median, p10, p90 after 2 warm-ups;
wall and process CPU time) and also reports the (face, pixel) pair count and the forward alone.
Cases: silhouette only, silhouette + 55 part probabilities, and silhouette with back faces
culled; each with every torch intra-op thread count given (default 1 and 2: on a busy
2-core machine two OpenMP threads spin-wait for each other and medians jump 10x or more).
Goal (issue 5): about 280 ms forward + backward on 2 CPU cores for the silhouette. This script
reports; it never fails on time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.geometry import intrinsics_from_fov
from robosmplx_core.render.soft import SoftRasterizer
from robosmplx_core.render.zbuffer import project_to_raster
from robosmplx_core.types import SMPLXParams

GOAL_MS = 280.0


def posed_body(model: BodyModel, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``verts_px`` (1, V, 3) of the posed stand-in 3 m in front of a ``size`` px camera,
    ``faces`` (F, 3) and per-face labels (F,) (main skinning joint of each face's first vertex)."""
    pose = torch.zeros(1, 21, 3)
    pose[0, 15, 2], pose[0, 16, 2], pose[0, 3, 0] = -0.9, 0.9, 0.8  # shoulders down, a knee bent
    params = SMPLXParams.from_axis_angle(body_pose=pose, global_orient=torch.tensor([[math.pi, 0.0, 0.0]]),
                                         transl=torch.tensor([[0.0, 0.3, 3.0]]))
    with torch.no_grad():
        verts = model(params).vertices
    faces = torch.as_tensor(model.faces)
    labels = model.layer.lbs_weights.argmax(dim=1)[faces[:, 0]]
    return project_to_raster(verts, intrinsics_from_fov(size, size, 42.0)), faces, labels


def time_case(rasterizer: SoftRasterizer, verts_px: torch.Tensor, faces: torch.Tensor,
              labels: torch.Tensor | None, runs: int) -> dict:
    """Median / p10 / p90 wall ms of forward + backward, CPU ms, forward-only ms, pair count."""
    num_parts = None if labels is None else int(labels.max()) + 1
    sync = torch.cuda.synchronize if verts_px.is_cuda else (lambda: None)

    def step(backward: bool) -> None:
        v = verts_px.clone().requires_grad_(backward)
        out = rasterizer(v, faces, labels, num_parts=num_parts)
        loss = out.silhouette.mean() + (0.0 if out.part_probs is None else out.part_probs[:, 1:].mean())
        if backward:
            loss.backward()
        sync()

    for _ in range(2):
        step(True)
    wall, cpu, forward = [], [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        step(True)
        cpu.append((time.process_time() - c) * 1e3)
        wall.append((time.perf_counter() - w) * 1e3)
        w = time.perf_counter()
        with torch.no_grad():
            step(False)
        forward.append((time.perf_counter() - w) * 1e3)
    wall.sort()
    tri = verts_px[:, faces].reshape(-1, 3, 3)
    pairs = int(rasterizer._pairs(tri, faces.shape[0]).face.numel())
    return {"median_ms": round(statistics.median(wall), 2), "p10_ms": round(wall[len(wall) // 10], 2),
            "p90_ms": round(wall[9 * len(wall) // 10], 2), "cpu_median_ms": round(statistics.median(cpu), 2),
            "forward_median_ms": round(statistics.median(forward), 2), "pairs": pairs, "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/render_speed.json"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch intra-op thread counts")
    args = ap.parse_args()
    model = BodyModel.load()
    verts_px, faces, labels = (t.to(args.device) for t in posed_body(model, args.size))
    settings = dict(height=args.size, width=args.size, near=1.0, far=5.0)
    cases = {
        "silhouette": (SoftRasterizer(**settings), None),
        "silhouette_parts55": (SoftRasterizer(**settings), labels),
        "silhouette_cull_backfaces": (SoftRasterizer(**settings, cull_backfaces=True), None),
    }
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, (rasterizer, case_labels) in cases.items():
            results.append({"case": name, "threads": threads,
                            **time_case(rasterizer, verts_px, faces, case_labels, args.runs)})
            r = results[-1]
            print(f"{name:26s} {threads} thr: fwd+bwd median {r['median_ms']:7.1f} ms (p10 {r['p10_ms']:.1f}, "
                  f"p90 {r['p90_ms']:.1f}, cpu {r['cpu_median_ms']:.1f}); fwd {r['forward_median_ms']:.1f} ms; "
                  f"{r['pairs']} pairs")
    print(f"load average {os.getloadavg()[0]:.2f}")
    best = min(r["median_ms"] for r in results if r["case"] == "silhouette")
    report = {
        "benchmark": "render_speed",
        "model": "stand-in" if model.is_standin else str(model.model_file),
        "faces": int(faces.shape[0]), "image_px": args.size, "device": args.device,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "settings": {"sigma": cases["silhouette"][0].sigma, "gamma": cases["silhouette"][0].gamma,
                     "margin_px": round(cases["silhouette"][0].margin_px, 3), **settings},
        "goal": f"silhouette forward + backward median under {GOAL_MS} ms (2 CPU cores)",
        "goal_met": best < GOAL_MS,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
