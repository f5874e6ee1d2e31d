"""What a training run reports (rank 0 only): a tqdm bar, ``metrics.jsonl`` and TensorBoard.

- ``out_dir/metrics.jsonl``: one JSON object per log event (``{"step", "split", ...}``), always;
- ``out_dir/tensorboard/``: scalars (loss terms, lr, steps/s, validation metrics) and image
  panels of validation images (ground-truth joints in green and predicted joints in red; the
  predicted mesh over the input), when the ``tensorboard`` package is importable; otherwise
  one warning line and no events.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Mapping, Optional

import cv2
import numpy as np
import torch
from tqdm import tqdm

from robosmplx_core.render.mesh import render_mesh

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def _summary_writer(folder: Path):
    """A ``SummaryWriter`` or None (with one warning line) when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        print(f"train: warning: no TensorBoard logs ({exc}); pip install tensorboard (requirements.txt, "
              "section train) to get them; metrics.jsonl is written regardless", file=sys.stderr)
        return None
    return SummaryWriter(log_dir=str(folder))


class RunLog:
    """Progress bar + metrics file + optional TensorBoard of one run; inert when ``enabled`` is
    false (ranks other than 0)."""

    def __init__(self, out_dir: Path, *, enabled: bool, total_steps: int, start_step: int,
                 progress: bool = True) -> None:
        self.enabled = enabled
        self.writer = None
        self.bar: Optional[tqdm] = None
        self.metrics_path = out_dir / METRICS_FILE
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        self.writer = _summary_writer(out_dir / TENSORBOARD_DIR)
        self.bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step", disable=not progress,
                        dynamic_ncols=True)

    def step(self, step: int, loss: float, lr: float) -> None:
        """Advance the bar by one optimizer step (``step`` = steps done)."""
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)

    def scalars(self, step: int, split: str, values: Mapping[str, float]) -> None:
        """Write ``values`` under ``split/`` (TensorBoard) and as one line of metrics.jsonl."""
        if not self.enabled:
            return
        with self.metrics_path.open("a") as f:
            f.write(json.dumps({"step": step, "split": split, **{k: float(v) for k, v in values.items()}}) + "\n")
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{split}/{name}", float(value), step)

    def images(self, step: int, tag: str, images_nchw: torch.Tensor) -> None:
        """An image panel (N, 3, H, W) floats in [0, 1] (TensorBoard only)."""
        if self.writer is not None:
            self.writer.add_images(tag, images_nchw, step)

    def note(self, text: str) -> None:
        """One line above the bar."""
        if self.enabled:
            (self.bar.write if self.bar is not None else print)(f"train: {text}")

    def close(self) -> None:
        """Flush and close the bar and the event file."""
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def draw_joints(images: torch.Tensor, gt_px: torch.Tensor, pred_px: torch.Tensor, *, scale: int = 2) -> torch.Tensor:
    """Crops with joints drawn: images (N, 3, S, S) in [0, 1], gt_px / pred_px (N, J, 2) crop
    pixels -> (N, 3, scale S, scale S) in [0, 1] (ground truth green, prediction red)."""
    out = []
    for img, gt, pred in zip(images.detach().cpu(), gt_px.detach().cpu(), pred_px.detach().cpu()):
        size = img.shape[-1] * scale
        canvas = (img.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
        canvas = np.ascontiguousarray(cv2.resize(canvas, (size, size), interpolation=cv2.INTER_NEAREST))
        for points, colour in ((gt, (0, 255, 0)), (pred, (255, 0, 0))):
            for x, y in (points.float() * scale).tolist():
                if 0 <= x < size and 0 <= y < size:
                    cv2.circle(canvas, (int(x), int(y)), 1, colour, -1, lineType=cv2.LINE_AA)
        out.append(torch.from_numpy(canvas).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out)


def draw_mesh(images: torch.Tensor, vertices_cam: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, *,
              scale: int = 2, alpha: float = 0.6) -> torch.Tensor:
    """The predicted mesh over its input: images (N, 3, S, S) in [0, 1], vertices (N, V, 3) in the
    images' camera frame (metres), faces (F, 3), intrinsics K (N, 3, 3) -> (N, 3, scale S,
    scale S) in [0, 1] (flat-shaded, ``alpha`` opaque, ``render.mesh.render_mesh``)."""
    out = []
    tri = faces.detach().cpu().numpy()
    up = torch.diag(torch.tensor([float(scale), float(scale), 1.0], dtype=torch.float64))
    for img, verts, k in zip(images.detach().cpu(), vertices_cam.detach().cpu(), K.detach().cpu()):
        size = img.shape[-1] * scale
        canvas = (img.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
        canvas = np.ascontiguousarray(cv2.resize(canvas, (size, size), interpolation=cv2.INTER_LINEAR))
        drawn = render_mesh(canvas, verts.double().numpy(), tri, (up @ k.double()).numpy(), alpha=alpha)
        out.append(torch.from_numpy(drawn).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out)
