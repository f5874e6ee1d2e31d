"""Validation of a training run (rank 0) and its TensorBoard panels, for every stage.

- body: ``training.evaluate`` (MPJPE, PA-MPJPE, PVE on the 137 joints / the mesh, mm) and,
  once, the validation set's own mean pose as a reference;
- hand / face: ``training.part_eval.PartEvaluator`` (root-aligned at the wrist / neck);
- wholebody: ``robosmplx_core.eval.wholebody_errors_mm`` on the assembled network's SMPL-X
  (all / body / hands / face joints and the mesh) plus the mean IoU of its part boxes with the
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

from robosmplx_core.data.datasets.common import from_synthetic
from robosmplx_core.data.synthetic import SyntheticBatch, SyntheticSample, collate_samples
from robosmplx_core.eval import MetricAccumulator
from robosmplx_core.eval.wholebody import WHOLEBODY137_PARTS, wholebody_errors_mm
from robosmplx_core.geometry.projection import perspective_projection
from robosmplx_core.nets.subnet import normalize_images
from training.evaluate import evaluate, mean_pose
from training.logs import RunLog, draw_joints, draw_mesh
from training.objective import FlaggedObjective
from training.part_eval import PartEvaluator
from training.robustness import EvalItem
from training.wholebody import BOX_FIELDS, WholeBodyObjective, wholebody_inputs

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
        sums: dict[str, list[float]] = {}
        for start in range(0, len(items), BATCH):
            for name, values in evaluator(items[start:start + BATCH]).items():
                sums.setdefault(name, []).extend(v for v in values.tolist() if v == v)  # NaN = no value
        return {k: sum(v) / len(v) for k, v in sums.items() if v}

    def _wholebody(self, net: nn.Module, val: Sequence[SyntheticSample]) -> dict[str, float]:
        objective = self.objective
        assert isinstance(objective, WholeBodyObjective)
        acc = MetricAccumulator()
        ious = []
        for start in range(0, len(val), BATCH):
            batch = collate_samples(list(val[start:start + BATCH]))
            out = network_outputs(net, "wholebody", batch)
            pred = objective.predict(out, batch.K, int(batch.image.shape[-1]))
            gt = objective.body_model(replace(objective.model_params(batch.params),
                                              transl=torch.zeros_like(batch.params.transl)))
            errors = wholebody_errors_mm(pred.joints.double(), gt.joints[:, objective.joint_index].double(),
                                         parts=WHOLEBODY137_PARTS, pred_vertices=pred.vertices.double(),
                                         gt_vertices=gt.vertices.double())
            acc.update(**errors.as_dict())
            ious.append(box_iou(out.part_boxes_xyxy, _target_boxes(batch, objective.box_scales)))
        means = {k: float(v) for k, v in acc.summary().means.items() if v is not None and v == v}
        means.update(mpjpe_mm=means["mpjpe_all_mm"], pa_mpjpe_mm=means["pa_mpjpe_all_mm"], pve_mm=means["pve_all_mm"],
                     part_box_iou=float(torch.cat(ious).mean()))
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


def _target_boxes(batch: SyntheticBatch, scales: torch.Tensor) -> torch.Tensor:
    """(B, 3, 4) xyxy ground-truth part boxes enlarged by ``scales`` (3,) (the L_box targets)."""
    gt = torch.stack([getattr(batch, f) for f in BOX_FIELDS], dim=1)
    half = (gt[..., 2:] * scales.to(gt)[None, :, None]) * 0.5
    return torch.cat([gt[..., :2] - half, gt[..., :2] + half], dim=-1)
