"""`robosmplx demo`: the bundled default job.

Runs `robosmplx predict` on the sample media (the first 300 frames of vtest.avi, messi5.jpg,
basketball1.png) into OUT/<sample>/, and writes OUT/body_model.png: the body model (the real
SMPL-X files when configured, else the procedural stand-in) in the rest pose, a posed body
with bent arms, curled fingers, open mouth and a smile, and a side view.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES
from robosmplx_core.config import RoboSMPLXConfig
from robosmplx_core.geometry.projection import default_intrinsics
from robosmplx_core.render import render_mesh
from robosmplx_core.types import SMPLXParams

PANEL_WH = (480, 640)
# Camera looks at the body from 3.2 m; rotating the model by pi about x maps SMPL-X's
# y-up / facing +z into the optical frame (y down), facing the camera.
CAMERA_DISTANCE_M = 3.2


def demo_pose(num_betas: int, num_expression: int) -> SMPLXParams:
    """A recognisable pose (axis-angle per joint, radians), batch of 1."""
    body = torch.zeros(21, 3)

    def set_joint(name: str, aa: tuple[float, float, float]) -> None:
        body[SMPLX_JOINT_NAMES.index(name) - 1] = torch.tensor(aa)

    # Rest pose is a T-pose (left arm along +x, right along -x, y up, facing +z).
    set_joint("left_shoulder", (0.0, 0.0, -1.1))     # left arm lowered
    set_joint("left_elbow", (0.0, -1.4, 0.0))        # left forearm forward
    set_joint("right_shoulder", (0.0, 0.0, -0.4))    # right arm raised a little
    set_joint("right_elbow", (0.0, 0.0, -1.5))       # right forearm up (waving)
    set_joint("left_hip", (-0.5, 0.0, 0.1))          # stride
    set_joint("left_knee", (0.9, 0.0, 0.0))
    set_joint("right_hip", (0.3, 0.0, -0.1))
    set_joint("spine2", (0.1, 0.2, 0.0))
    set_joint("head", (0.0, 0.3, 0.0))
    left_hand = torch.zeros(15, 3)
    left_hand[:12, 2] = -0.6                           # curl the left fingers (palm faces down)
    expression = torch.zeros(1, num_expression)
    expression[0, :2] = torch.tensor([2.0, 2.0])[: num_expression]
    return SMPLXParams.from_axis_angle(
        body_pose=body[None], left_hand_pose=left_hand[None], jaw_pose=torch.tensor([[0.35, 0.0, 0.0]]),
        betas=torch.zeros(1, num_betas), expression=expression,
    )


def _view(model: BodyModel, params: SMPLXParams, yaw: float) -> np.ndarray:
    w, h = PANEL_WH
    K = default_intrinsics(w, h, fov_deg=40.0)
    K = K.numpy() if isinstance(K, torch.Tensor) else np.asarray(K)
    flip = SMPLXParams.from_axis_angle(global_orient=torch.tensor([[math.pi, 0.0, 0.0]])).global_orient
    yaw_m = SMPLXParams.from_axis_angle(global_orient=torch.tensor([[0.0, yaw, 0.0]])).global_orient
    posed = dataclasses.replace(params, global_orient=flip @ yaw_m)
    with torch.no_grad():
        pelvis = model(posed).joints[0, 0]
        posed = dataclasses.replace(posed, transl=(torch.tensor([0.0, 0.0, CAMERA_DISTANCE_M]) - pelvis)[None])
        verts = model(posed).vertices[0].numpy()
    background = np.full((h, w, 3), 245, np.uint8)
    return render_mesh(background, verts, model.faces, K)


DEMO_SAMPLES = (("vtest.avi", 300, "mesh"), ("messi5.jpg", None, "mesh"), ("basketball1.png", None, "mesh"))


def run_demo(cfg: RoboSMPLXConfig, out_dir: Path) -> list[Path]:
    """Predict on every sample and draw the body model; returns the output folders/files."""
    from robosmplx_core.media import sample_path
    from robosmplx_core.predict import run_predict

    outputs = [render_body_model(cfg, out_dir)]
    print(f"demo: body model picture -> {outputs[0]}")
    for name, max_frames, overlay in DEMO_SAMPLES:
        target = out_dir / Path(name).stem
        summary = run_predict(str(sample_path(name)), target, cfg, max_frames=max_frames, overlay=overlay)
        print(f"demo: {name}: {summary['frames']} frames, {summary['unique_tracks']} tracks, "
              f"persons/frame {summary['persons_per_frame']['mean']}, pipeline {summary['pipeline_fps']} fps "
              f"-> {target}/ (overlay.mp4, estimates.jsonl, estimates.npz, summary.json)")
        outputs.append(target)
    return outputs


def render_body_model(cfg: RoboSMPLXConfig, out_dir: Path) -> Path:
    """Render the body model and write ``out_dir/body_model.png``; returns the path."""
    model = BodyModel.from_config(dataclasses.replace(cfg.body_model, device="cpu"))
    rest = SMPLXParams.zeros(1, num_betas=model.num_betas, num_expression=model.num_expression)
    posed = demo_pose(model.num_betas, model.num_expression)
    panels = [_view(model, rest, 0.0), _view(model, posed, 0.0), _view(model, posed, math.pi / 2)]
    picture = np.concatenate(panels, axis=1)
    source = "procedural stand-in" if model.is_standin else str(model.model_file)
    cv2.putText(picture, f"SMPL-X ({source}): rest | posed | side", (10, 24),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6, (40, 40, 40), 1, cv2.LINE_AA)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "body_model.png"
    if not cv2.imwrite(str(path), picture[:, :, ::-1]):
        raise OSError(f"could not write {path}; check that the folder is writable")
    return path
