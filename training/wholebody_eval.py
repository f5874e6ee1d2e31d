"""Per-sample errors of a whole-body network on :class:`~training.robustness.EvalItem` batches.

The items are BODY samples at the full image size the network reads (``data.train.image_size``
of its training run, e.g. 512 px): the network is run as in training
(``training.wholebody``): ``net(normalize_images(images), person_boxes(batch), batch.K)``, the
person box being the extent of the labelled 2D joints. Its merged SMPL-X (translation dropped:
every metric is root-aligned or Procrustes) goes through the body model
(``use_face_contour=True``); the 137 whole-body joints are compared with the samples'
``joints3d`` by ``robosmplx_core.eval.wholebody.wholebody_errors_mm`` (``WHOLEBODY137_PARTS``),
all values in mm:

- ``mpjpe_all_mm`` / ``pa_mpjpe_all_mm``: the 137 joints, aligned at the pelvis / by Procrustes;
- ``mpjpe_body_mm`` / ``pa_mpjpe_body_mm``: the 25 body joints;
- ``mpjpe_hands_mm`` / ``pa_mpjpe_hands_mm``: each hand's 20 finger joints aligned at its wrist
  (per hand), the two hands averaged;
- ``mpjpe_face_mm`` / ``pa_mpjpe_face_mm``: the 72 face keypoints aligned at the neck;
- ``pve_all_mm`` / ``pa_pve_all_mm``: every vertex, aligned at the pelvis regressed from each
  mesh (``training.part_eval.mesh_errors_mm``, as the body subnetwork's ``pve_mm``, so GT meshes
  without joints (EHF) work) / by Procrustes.

``mpjpe_mm``, ``pa_mpjpe_mm`` and ``pve_mm`` repeat the "all" values (:data:`ALIASES`), the
names the body subnetwork and the whole-body validation (``training.validation``) report.

Validity, as :class:`~training.part_eval.PartEvaluator`: joints are weighted by
``joints3d_conf`` (all 0 where ``has_joints3d`` is False); a root-aligned joint metric is NaN
where its root (pelvis; each wrist; neck) is unlabelled, a metric with no labelled joint of its
group is NaN; a GT mesh is ``EvalItem.gt_vertices`` or the body model on ``sample.params`` when
every parameter is valid (``params_valid``), else the vertex metrics are NaN. NaN = no value
(skipped by ``MetricAccumulator``).

Glossary: B batch, S image side, J = 137 joints, V vertices.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.datasets.common import TrainingBatch, collate_training_samples
from robosmplx_core.eval.wholebody import WHOLEBODY137_PARTS, wholebody_errors_mm
from robosmplx_core.nets.specs import BODY_SPEC, spec_joint_indices_144
from robosmplx_core.nets.subnet import normalize_images
from robosmplx_core.nets.wholebody import WholeBodyNetwork, WholeBodyOutput
from robosmplx_core.types import SMPLXParams
from training.eval_data import datasets_for
from training.part_eval import ground_truth_meshes, mesh_errors_mm, to_body_model
from training.robustness import EvalItem, Perturbation, perturb
from training.wholebody import person_boxes, shifted_boxes

__all__ = ["ALIASES", "WHOLEBODY_METRICS", "WholeBodyEvaluator", "perturb_wholebody"]

WHOLEBODY_METRICS: tuple[str, ...] = (
    "mpjpe_all_mm", "pa_mpjpe_all_mm", "mpjpe_body_mm", "pa_mpjpe_body_mm", "mpjpe_hands_mm", "pa_mpjpe_hands_mm",
    "mpjpe_face_mm", "pa_mpjpe_face_mm", "pve_all_mm", "pa_pve_all_mm",
)  # fmt: skip
"""The metrics of a whole-body network, in table order (module docstring)."""

ALIASES: dict[str, str] = {"mpjpe_mm": "mpjpe_all_mm", "pa_mpjpe_mm": "pa_mpjpe_all_mm", "pve_mm": "pve_all_mm"}
"""Extra keys of every result -> the metric whose value they repeat."""

_ROOT_ALIGNED = {  # root-aligned joint metric -> the groups whose roots must be labelled
    "mpjpe_all_mm": (WHOLEBODY137_PARTS.body,), "mpjpe_body_mm": (WHOLEBODY137_PARTS.body,),
    "mpjpe_face_mm": (WHOLEBODY137_PARTS.face,),
}  # fmt: skip


class WholeBodyEvaluator:
    """Per-sample metrics of a whole-body network: ``evaluator(items) -> {name: (B,) tensor}``.

    The same interface as :class:`~training.part_eval.PartEvaluator` (``metric_names``,
    ``unsupported``, ``predict``, ``metrics``, ``__call__``), for ``training.eval_cli`` and
    ``training.robustness.run_protocol``.

    Args:
        network: a :class:`WholeBodyNetwork` (from ``nets.checkpoint.load_network``), any device.
        body_model: a 144-joint body model (``BodyModel.load(use_face_contour=True)``).

    Raises:
        ValueError: another network, or a body model without the face contour.
    """

    part = "body"  # the samples it reads: full body images

    def __init__(self, *, network: WholeBodyNetwork, body_model: BodyModel) -> None:
        if not isinstance(network, WholeBodyNetwork):
            raise ValueError(f"WholeBodyEvaluator: expected a WholeBodyNetwork checkpoint, got "
                             f"{type(network).__name__}; evaluate a subnetwork with training.part_eval.PartEvaluator")
        if body_model.num_joints != 144:
            raise ValueError("WholeBodyEvaluator: the body model must be built with use_face_contour=True "
                             f"(144 joints), got {body_model.num_joints}")
        self.network = network.eval()
        self.body_model = body_model
        self.device = next(network.parameters()).device
        self.joint_index = torch.tensor(spec_joint_indices_144(BODY_SPEC), dtype=torch.long)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names this evaluator reports, in table order (the :data:`ALIASES` come on top)."""
        return WHOLEBODY_METRICS

    @property
    def unsupported(self) -> dict[str, str]:
        """Metric name -> why this network cannot give it: none."""
        return {}

    @property
    def aliases(self) -> dict[str, str]:
        """Extra result keys -> the metric they repeat (:data:`ALIASES`)."""
        return dict(ALIASES)

    @torch.no_grad()
    def forward(self, items: Sequence[EvalItem]) -> WholeBodyOutput:
        """The network's output for a batch of B full images, run as in training."""
        batch = self._collate(items)
        images = normalize_images(batch.image.to(self.device))
        boxes = person_boxes(batch)
        given = [i for i, item in enumerate(items) if item.person_box_xyxy is not None]
        if given:  # the robustness protocol's shifted boxes
            boxes[given] = torch.stack([items[i].person_box_xyxy for i in given]).to(boxes)
        return self.network(images, boxes.to(self.device), batch.K.to(self.device))

    def predict(self, items: Sequence[EvalItem]) -> SMPLXParams:
        """The network's merged SMPL-X parameters (B), on the evaluator's device."""
        return self.forward(items).params

    def __call__(self, items: Sequence[EvalItem]) -> dict[str, torch.Tensor]:
        """Per-sample metrics of the network's predictions on ``items``."""
        return self.metrics(self.predict(items), items)

    @torch.no_grad()
    def metrics(self, pred: SMPLXParams, items: Sequence[EvalItem]) -> dict[str, torch.Tensor]:
        """Per-sample metrics, (B,) float64 CPU tensors, of predicted parameters ``pred`` (B)
        against ``items`` (NaN = no value); the :data:`ALIASES` included. Passing the
        ground-truth parameters gives ~0.

        Raises:
            ValueError: the items are not body samples, or a GT mesh has another vertex count
                than the body model.
        """
        batch = self._collate(items)
        posed = dataclasses.replace(pred, transl=torch.zeros_like(pred.transl))  # root-aligned metrics only
        model_out = self.body_model(to_body_model(self.body_model, posed))
        pj = model_out.joints[:, self.joint_index].double().cpu()  # (B, J, 3)
        gj = batch.joints3d.double()  # (B, J, 3)
        conf = batch.joints3d_conf.double() * batch.has_joints3d.double()[:, None]  # (B, J)
        values = {k: torch.as_tensor(v, dtype=torch.float64)
                  for k, v in wholebody_errors_mm(pj, gj, parts=WHOLEBODY137_PARTS, weights=conf).as_dict().items()}
        for name, groups in _ROOT_ALIGNED.items():
            ok = torch.stack([conf[:, list(g.root)].gt(0).all(dim=1) for g in groups]).all(dim=0)
            values[name] = torch.where(ok, values[name], torch.nan)
        values["mpjpe_hands_mm"] = self._hands_at_labelled_wrists(pj, gj, conf)
        gv, has = ground_truth_meshes(self.body_model, items)
        mesh = mesh_errors_mm(self.body_model, model_out.vertices.double().cpu(), gv, has, root="pelvis")
        values.update(pve_all_mm=mesh["pve_mm"], pa_pve_all_mm=mesh["pa_pve_mm"])
        values.update({alias: values[name].clone() for alias, name in ALIASES.items()})
        return values

    @staticmethod
    def _hands_at_labelled_wrists(pj: torch.Tensor, gj: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
        """(B,) wrist-aligned hand MPJPE where a hand whose wrist is unlabelled counts as missing
        (its finger weights zeroed), so the hand average uses the other hand only (NaN: neither)."""
        w = conf.clone()
        for hand in (WHOLEBODY137_PARTS.left_hand, WHOLEBODY137_PARTS.right_hand):
            missing = ~conf[:, list(hand.root)].gt(0).all(dim=1)
            w[missing[:, None] & _mask(hand.joints, w.shape[1])[None]] = 0.0
        errors = wholebody_errors_mm(pj, gj, parts=WHOLEBODY137_PARTS, weights=w)
        return torch.as_tensor(errors.mpjpe_hands_mm, dtype=torch.float64)

    def _collate(self, items: Sequence[EvalItem]) -> TrainingBatch:
        batch = collate_training_samples([it.sample for it in items])
        if batch.part != self.part:
            raise ValueError(f"a whole-body network reads full body images but the samples are {batch.part} crops; "
                             f"evaluate it on a body dataset: {datasets_for(self.part)}")
        return batch


def _mask(indices: Sequence[int], size: int) -> torch.Tensor:
    """(size,) bool, True at ``indices``."""
    out = torch.zeros(size, dtype=torch.bool)
    out[list(indices)] = True
    return out


def perturb_wholebody(item: EvalItem, perturbation: Perturbation) -> EvalItem:
    """The robustness protocol for a whole-body network: a location perturbation (translate x / y
    by box sides, scale) moves the PERSON BOX given to the network (an imprecise detector) over
    the unchanged image; rotation and the image variants change the image as for the
    subnetworks (``training.robustness.perturb``), the box then following the labels."""
    if perturbation.kind != "location":
        return perturb(item, perturbation)
    box = person_boxes(collate_training_samples([item.sample]))
    moved = shifted_boxes(box, translate=perturbation.translate, scale=perturbation.scale)[0]
    return dataclasses.replace(item, person_box_xyxy=moved)
