"""Validation of a training run (rank 0) and its TensorBoard panels, for every stage.

- body: ``training.evaluate`` (MPJPE, PA-MPJPE, PVE on the 137 joints / the mesh, mm) and,
  once, the validation set's own mean pose as a reference;
- hand / face: ``training.part_eval.PartEvaluator`` (root-aligned at the wrist / neck);
- wholebody: ``training.wholebody_eval.WholeBodyEvaluator`` (the metrics of ``robosmplx eval``:
  all / body / hands / face joints and the mesh) plus the mean IoU of its part boxes with the
  ground-truth boxes enlarged like the L_box targets; ``mpjpe_mm`` = all 137 joints.

Each validation also writes two image panels of the first validation images: ground-truth
(green) and predicted (red) joints, and the predicted mesh over the input.

Glossary: B batch, S image side, V vertices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Sequence

import torch
from torch import nn

from robosmplx_core.data.datasets.common import collate_training_samples, from_synthetic
from robosmplx_core.data.synthetic import SyntheticSample, collate_samples
from robosmplx_core.geometry.projection import perspective_projection
from robosmplx_core.nets.crop import center_size_to_boxes
from robosmplx_core.nets.subnet import normalize_images
from training.evaluate import evaluate, mean_pose
from training.logs import RunLog, draw_joints, draw_mesh
from training.objective import FlaggedObjective
from training.part_eval import PartEvaluator
from training.robustness import EvalItem
from training.wholebody import WholeBodyObjective, enlarged_part_boxes, wholebody_inputs
from training.wholebody_eval import WholeBodyEvaluator

__all__ = ["PANEL_SIZE", "samples_to", "network_outputs", "Validator", "box_iou"]

PANEL_SIZE = 4  # validation images in the TensorBoard panels
BATCH = 16


def samples_to(samples: Sequence[SyntheticSample], device: torch.device) -> list[SyntheticSample]:
    """``samples`` with every tensor on ``device`` (the same list when they already are)."""
    if all(s.image.device == device for s in samples):
        return list(samples)
    tensors = lambda s: {f.name: v.to(device) for f in dataclasses.fields(s)  # noqa: E731
                         if isinstance(v := getattr(s, f.name), torch.Tensor)}
    return [replace(s, params=s.params.to(device), **tensors(s)) for s in samples]


def network_outputs(net: nn.Module, stage: str, batch) -> object:
    """The network's outputs for a (Training/Synthetic) batch: crops only, or (whole body)
    full images + person boxes + intrinsics."""
    images = normalize_images(batch.image)
    return net(images, *wholebody_inputs(batch)) if stage == "wholebody" else net(images)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of xyxy boxes ``(..., 4)`` and ``(..., 4)`` -> ``(...)``."""
    lo, hi = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (hi - lo).clamp(min=0).prod(dim=-1)
    area = lambda x: (x[..., 2:] - x[..., :2]).clamp(min=0).prod(dim=-1)  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


class Validator:
    """Validates one stage's network on held-out samples (module docstring); logs to a
    :class:`RunLog` and returns the mean metrics (mm; ``mpjpe_mm`` selects the best)."""

    def __init__(self, stage: str, objective: FlaggedObjective) -> None:
        self.stage, self.objective = stage, objective
        self._baseline_logged = False

    @torch.no_grad()
    def __call__(self, net: nn.Module, val: Sequence[SyntheticSample], log: RunLog, step: int) -> dict[str, float]:
        was_training = net.training
        net.eval()
        try:
            if self.stage == "body":
                metrics = self._body(net, val, log, step)
            elif self.stage == "wholebody":
                metrics = self._wholebody(net, val)
            else:
                metrics = self._part(net, val)
            log.scalars(step, "val", metrics)
            self._panels(net, val, log, step)
        finally:
            net.train(was_training)
        return metrics

    def _body(self, net: nn.Module, val: Sequence[SyntheticSample], log: RunLog, step: int) -> dict[str, float]:
        metrics = evaluate(self.objective, val, net=net)
        if not self._baseline_logged:  # reference: the validation set's own mean pose
            base = evaluate(self.objective, val, baseline=mean_pose(val))
            log.scalars(step, "val", {f"mean_pose_{k}": v for k, v in base.items() if v is not None})
            self._baseline_logged = True
        return {k: float(v) for k, v in metrics.items() if v is not None}

    def _part(self, net: nn.Module, val: Sequence[SyntheticSample]) -> dict[str, float]:
        """Hand / face: ``PartEvaluator``'s mean metrics (mm) on the held-out set (CPU)."""
        items = [EvalItem(sample=from_synthetic(s)) for s in samples_to(val, torch.device("cpu"))]
        evaluator = PartEvaluator(network=net, body_model=self.objective.body_model)
        return _means([evaluator(items[start:start + BATCH]) for start in range(0, len(items), BATCH)])

    def _wholebody(self, net: nn.Module, val: Sequence[SyntheticSample]) -> dict[str, float]:
        """``WholeBodyEvaluator``'s mean metrics (mm) on the held-out set (CPU) and the mean IoU
        of the part boxes with the L_box targets."""
        objective = self.objective
        assert isinstance(objective, WholeBodyObjective)
        items = [EvalItem(sample=from_synthetic(s)) for s in samples_to(val, torch.device("cpu"))]
        evaluator = WholeBodyEvaluator(network=net, body_model=objective.body_model)
        per_batch, ious = [], []
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            out = evaluator.forward(chunk)
            per_batch.append(evaluator.metrics(out.params, chunk))
            target = enlarged_part_boxes(collate_training_samples([it.sample for it in chunk]), objective.box_scales)
            ious.append(box_iou(out.part_boxes_xyxy.cpu(), center_size_to_boxes(target[..., :2], target[..., 2])))
        means = _means(per_batch)
        means["part_box_iou"] = float(torch.cat(ious).mean())
        return means

    def _panels(self, net: nn.Module, val: Sequence[SyntheticSample], log: RunLog, step: int) -> None:
        """Joints (GT green, predicted red) and the predicted mesh over the first validation images."""
        if log.writer is None or not val:
            return
        batch = collate_samples(list(val[:PANEL_SIZE]))
        pred = self.objective.predict(network_outputs(net, self.stage, batch), batch.K, int(batch.image.shape[-1]))
        verts_cam = pred.vertices + pred.transl[:, None]
        pred_px = perspective_projection(pred.joints + pred.transl[:, None], batch.K)
        log.images(step, "val/joints_gt_green_pred_red", draw_joints(batch.image, batch.joints2d, pred_px))
        log.images(step, "val/predicted_mesh", draw_mesh(batch.image, verts_cam, self.objective.faces, batch.K))


def _means(per_batch: Sequence[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Mean of each metric's per-sample values (B,) over all batches, NaN (no value) skipped."""
    sums: dict[str, list[float]] = {}
    for values in per_batch:
        for name, v in values.items():
            sums.setdefault(name, []).extend(x for x in v.tolist() if x == x)
    return {k: sum(v) / len(v) for k, v in sums.items() if v}
