"""Jitter and lag of the per-track smoother, on a synthetic trajectory with known truth and on
real tracks from vtest.avi.

    .venv/bin/python benchmarks/smoothing_quality.py [--frames 100] [--out FILE] [key=value ...]

Jitter = mean joint acceleration magnitude over the 55 SMPL-X joints, mm/frame^2 (as in
VIBE / SmoothNet). Lag = delay of the smoothed joint trajectories behind the truth in frames
(cross-correlation peak, sub-frame). Goal (issue 3): jitter reduced >= 3x with lag <= 1 frame
at 30 fps on the synthetic trajectory. Prints and writes JSON; never fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES
from robosmplx_core.config import load_config
from robosmplx_core.media import sample_path
from robosmplx_core.pipeline import Estimator
from robosmplx_core.smoothing import SmoothingStage
from robosmplx_core.types import Frame, PartConfidence, PersonEstimate, SMPLXParams

FPS = 30.0


def jitter_mm(joints: np.ndarray) -> float:
    """Mean |second difference| of (T, J, 3) metres, in mm/frame^2."""
    return float(np.linalg.norm(np.diff(joints, n=2, axis=0), axis=-1).mean() * 1e3)


def lag_frames(truth: np.ndarray, est: np.ndarray, max_lag: int = 10) -> float:
    """Delay of est behind truth, (T, ...) arrays, from the summed cross-correlation peak."""
    a = (truth - truth.mean(0)).reshape(len(truth), -1)
    b = (est - est.mean(0)).reshape(len(est), -1)
    corr = np.array([(a[: len(a) - k] * b[k:]).sum() for k in range(max_lag + 1)])
    k = int(np.argmax(corr))
    if 0 < k < max_lag:
        k += 0.5 * (corr[k - 1] - corr[k + 1]) / (corr[k - 1] - 2 * corr[k] + corr[k + 1])
    return float(k)


def walking_params(n: int) -> SMPLXParams:
    """A 1 Hz walking-like motion (hips, knees, shoulders, elbows, spine), 3 m from the camera."""
    t = np.arange(n) / FPS
    body = np.zeros((n, 21, 3))
    ph = 2 * math.pi * 1.0 * t
    j = {name: SMPLX_JOINT_NAMES.index(name) - 1 for name in SMPLX_JOINT_NAMES[1:22]}
    body[:, j["left_hip"], 0], body[:, j["right_hip"], 0] = 0.4 * np.sin(ph), -0.4 * np.sin(ph)
    body[:, j["left_knee"], 0] = 0.5 * (1 + np.sin(ph + 1.2))
    body[:, j["right_knee"], 0] = 0.5 * (1 + np.sin(ph + 1.2 + math.pi))
    body[:, j["left_shoulder"], 2], body[:, j["right_shoulder"], 2] = -1.2, 1.2
    body[:, j["left_shoulder"], 1], body[:, j["right_shoulder"], 1] = 0.4 * np.sin(ph), 0.4 * np.sin(ph)
    body[:, j["left_elbow"], 1] = -0.3 - 0.3 * np.sin(ph)
    body[:, j["spine2"], 1] = 0.1 * np.sin(ph)
    transl = np.stack([0.5 * np.sin(0.3 * ph), 0.3 + 0.02 * np.sin(2 * ph), 3.0 + 0.8 * t / t[-1]], 1)
    return SMPLXParams.from_axis_angle(global_orient=np.tile([math.pi, 0, 0], (n, 1)).astype(np.float32),
                                       body_pose=body.astype(np.float32), transl=transl.astype(np.float32))


def joints_of(model: BodyModel, params: SMPLXParams) -> np.ndarray:
    with torch.inference_mode():
        return model(params).joints[:, :55].numpy()


def smooth_sequence(stage: SmoothingStage, params: SMPLXParams, stamps: np.ndarray, model: BodyModel) -> SMPLXParams:
    """Run the smoother over a single-track sequence of params; returns the smoothed params."""
    joints = joints_of(model, params)
    out = []
    for i, stamp in enumerate(stamps):
        p = params.select(i)
        person = PersonEstimate(track_id=0, box_xyxy=np.zeros(4), score=1.0, params=p, joints3d=joints[i],
                                joints2d=np.zeros((55, 2)), confidence=PartConfidence(body=1.0))
        out.append(stage([person], float(stamp))[0].params)
    return SMPLXParams.cat(out)


def synthetic(model: BodyModel, stage: SmoothingStage, n: int = 300, rot_noise_deg: float = 3.0,
              transl_noise_m: float = 0.01) -> dict:
    truth = walking_params(n)
    g = torch.Generator().manual_seed(0)
    noise = SMPLXParams.from_axis_angle(body_pose=math.radians(rot_noise_deg) * torch.randn(n, 21, 3, generator=g),
                                        global_orient=math.radians(rot_noise_deg) * torch.randn(n, 3, generator=g))
    noisy = dataclasses.replace(truth, body_pose=truth.body_pose @ noise.body_pose,
                                global_orient=truth.global_orient @ noise.global_orient,
                                transl=truth.transl + transl_noise_m * torch.randn(n, 3, generator=g))
    stamps = np.arange(n) / FPS
    smoothed = smooth_sequence(stage, noisy, stamps, model)
    jt, jn, js = joints_of(model, truth), joints_of(model, noisy), joints_of(model, smoothed)
    return {"frames": n, "fps": FPS, "rotation_noise_deg": rot_noise_deg, "translation_noise_m": transl_noise_m,
            "jitter_truth_mm": round(jitter_mm(jt), 3), "jitter_raw_mm": round(jitter_mm(jn), 3),
            "jitter_smoothed_mm": round(jitter_mm(js), 3),
            "jitter_reduction": round(jitter_mm(jn) / jitter_mm(js), 3),
            "lag_frames": round(lag_frames(jt, js), 3),
            "mpjpe_raw_mm": round(float(np.linalg.norm(jn - jt, axis=-1).mean() * 1e3), 2),
            "mpjpe_smoothed_mm": round(float(np.linalg.norm(js - jt, axis=-1).mean() * 1e3), 2)}


def real_vtest(cfg, model: BodyModel, frames: int) -> dict:
    """Raw estimates (smoothing off) on vtest.avi, then the smoother on the same tracks."""
    raw_cfg = dataclasses.replace(cfg, smoothing=dataclasses.replace(cfg.smoothing, enabled=False))
    est = Estimator.from_config(raw_cfg)
    cap, tracks = cv2.VideoCapture(str(sample_path("vtest.avi"))), {}
    for i in range(frames):
        ok, bgr = cap.read()
        if not ok:
            break
        for p in est(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stamp_s=i / 10.0, index=i)):
            tracks.setdefault(p.track_id, []).append((i / 10.0, p.params))
    raw_j, smooth_j = [], []
    for seq in tracks.values():
        if len(seq) < 10:
            continue
        stamps = np.array([s for s, _ in seq])
        params = SMPLXParams.cat([p for _, p in seq])
        stage = SmoothingStage.from_config(cfg.smoothing)
        raw_j.append(jitter_mm(joints_of(model, params)))
        smooth_j.append(jitter_mm(joints_of(model, smooth_sequence(stage, params, stamps, model))))
    return {"frames": frames, "fps": 10.0, "tracks_used": len(raw_j),
            "jitter_raw_mm": round(float(np.mean(raw_j)), 3) if raw_j else None,
            "jitter_smoothed_mm": round(float(np.mean(smooth_j)), 3) if smooth_j else None,
            "jitter_reduction": round(float(np.mean(raw_j) / np.mean(smooth_j)), 3) if raw_j else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100, help="vtest.avi frames for the real-track part")
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/smoothing_quality.json"))
    ap.add_argument("overrides", nargs="*", metavar="key=value")
    args = ap.parse_args()
    cfg = load_config(None, args.overrides)
    model = BodyModel.from_config(cfg.body_model)
    syn = synthetic(model, SmoothingStage.from_config(cfg.smoothing))
    real = real_vtest(cfg, model, args.frames)
    report = {"benchmark": "smoothing_quality", "synthetic_30fps": syn, "vtest_real_tracks": real,
              "goal": "synthetic: jitter_reduction >= 3 and lag_frames <= 1",
              "goal_met": syn["jitter_reduction"] >= 3.0 and syn["lag_frames"] <= 1.0}
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
