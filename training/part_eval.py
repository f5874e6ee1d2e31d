"""Per-sample errors of one Body, Hand or Face subnetwork on :class:`~training.robustness.EvalItem` batches.

The network's outputs become SMPL-X parameters (everything it does not predict at rest, the
neutral face) and go through the body model (``use_face_contour=True``); the spec's J joints
(``nets.specs.spec_joint_indices_144``) are compared with the crop's ``joints3d``, weighted by
``joints3d_conf``. Root alignment as the paper (sec. 5): the pelvis for the body, the wrist for
the hand, the neck for the face; a sample whose root joint is unlabelled gets no MPJPE (NaN,
counted as skipped). Metrics (``robosmplx_core.eval``, mm):

- body: ``mpjpe_mm`` / ``pa_mpjpe_mm`` on the 137 whole-body joints, ``mpjpe_body_mm`` /
  ``pa_mpjpe_body_mm`` on its 25 body joints (``WHOLEBODY137_PARTS.body``), ``pve_mm`` /
  ``pa_pve_mm`` on all vertices;
- hand (right hand, 21 joints): ``mpjpe_mm`` / ``pa_mpjpe_mm``, ``pve_mm`` / ``pa_pve_mm`` on the
  right-hand vertices of ``body_model.parts``;
- face (neck + 72 face keypoints): the same on the head vertices, plus ``rmse3d_mm`` (table 5's
  3DRMSE): for a GT scan (``EvalItem.gt_scan``, Stirling) the Stirling/FG 2018 protocol: the
  predicted head vertices moved by the similarity that takes the predicted landmarks (spec
  joints) onto the scan's, then the RMS distance of each evaluated scan point to its nearest
  predicted vertex; for a GT mesh, corresponding head vertices after Procrustes.

Vertex metrics need a GT mesh: ``EvalItem.gt_vertices`` (EHF) or the body model on
``sample.params`` when every parameter is valid; others are NaN (skipped). The vertex roots
are regressed from each mesh with the model's ``J_regressor`` (pelvis / right wrist / neck), as
Hand4Whole does, so GT meshes without joints work too.

Part-only outputs: hand and face networks predict no global orientation unless built with
``part_only=True``. We read ``global_orient`` as the SMPL-X global orientation that, with the
body at rest, orients the part in the camera frame (the rest body chain is identity, so it is
the wrist's / head's rotation). Without it the orientation is unknown: only the Procrustes
metrics (``pa_*``, ``rmse3d_mm``) are reported and the rest is listed in ``unsupported``. Not
supported at all: whole-body networks (they need full images: ``training.wholebody_eval``, which
shares :func:`ground_truth_meshes` and :func:`mesh_errors_mm`), F-score (no GT hand meshes from
FreiHAND's adapter), acceleration (single crops, no sequences).

Glossary: B batch, J joints of the spec, V vertices.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES
from robosmplx_core.body_model.parts import part_labels
from robosmplx_core.data.datasets.common import collate_training_samples
from robosmplx_core.eval import (
    WHOLEBODY137_PARTS, fit_similarity, mpjpe_mm, pa_mpjpe_mm, pa_pve_mm, part_mpjpe_mm, part_pa_mpjpe_mm, pve_mm,
    rmse_3d_mm,
)
from robosmplx_core.nets.specs import spec_joint_indices_144
from robosmplx_core.nets.subnet import PartSubnetwork, SubnetOutput, normalize_images
from robosmplx_core.types import SMPLXParams
from training.part_objective import fit_coefficients
from training.robustness import EvalItem

__all__ = ["PartEvaluator", "ROOT_JOINT", "ground_truth_meshes", "mesh_errors_mm", "to_body_model"]

ROOT_JOINT: dict[str, str] = {"body": "pelvis", "hand": "right_wrist", "face": "neck"}
"""Root joint of each part (paper sec. 5): a name of the spec's joints and of SMPL-X's skeleton."""


class PartEvaluator:
    """Per-sample metrics of a subnetwork: ``evaluator(items) -> {name: (B,) tensor}``.

    Args:
        network: a :class:`PartSubnetwork` (from ``nets.checkpoint.load_network``), any device.
        body_model: a 144-joint body model (``BodyModel.load(use_face_contour=True)``), on the
            network's device.
    """

    def __init__(self, *, network: PartSubnetwork, body_model: BodyModel) -> None:
        if not isinstance(network, PartSubnetwork):
            raise ValueError(f"PartEvaluator: expected a PartSubnetwork checkpoint, got {type(network).__name__}; "
                             "whole-body networks need full images: use training.wholebody_eval.WholeBodyEvaluator")
        if body_model.num_joints != 144:
            raise ValueError("PartEvaluator: the body model must be built with use_face_contour=True "
                             f"(144 joints), got {body_model.num_joints}")
        self.network = network.eval()
        self.body_model = body_model
        self.part = network.spec.name
        self.device = next(network.parameters()).device
        self.oriented = self.part == "body" or network.part_only
        self.joint_index = torch.tensor(spec_joint_indices_144(network.spec), dtype=torch.long)
        self.root = network.spec.joint_names.index(ROOT_JOINT[self.part])
        labels = part_labels(body_model, self.part).vertex_labels
        self.vertices = None if self.part == "body" else torch.nonzero(labels >= 0).squeeze(1).cpu()

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names this evaluator reports, in table order."""
        names = ["mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pa_pve_mm"]
        if self.part == "body":
            names[2:2] = ["mpjpe_body_mm", "pa_mpjpe_body_mm"]
        if self.part == "face":
            names.append("rmse3d_mm")
        return tuple(n for n in names if n not in self.unsupported)

    @property
    def unsupported(self) -> dict[str, str]:
        """Metric name -> why this network cannot give it."""
        if self.oriented:
            return {}
        why = (f"this {self.part} network has no part-only global orientation (built with part_only=False), "
               "so only orientation-free (Procrustes) metrics are defined")
        return {"mpjpe_mm": why, "pve_mm": why}

    @torch.no_grad()
    def predict(self, items: Sequence[EvalItem]) -> SMPLXParams:
        """The network's SMPL-X parameters for a batch (B), on the evaluator's device."""
        batch = collate_training_samples([it.sample for it in items])
        out = self.network(normalize_images(batch.image.to(self.device)))
        return self.params_from_output(out)

    def params_from_output(self, out: SubnetOutput) -> SMPLXParams:
        """SMPL-X parameters (B) of one subnetwork output; what the part does not predict is at rest."""
        m = self.body_model
        rest = SMPLXParams.zeros(out.batch_size, num_betas=m.num_betas, num_expression=m.num_expression,
                                 device=out.rotmats.device)
        if self.part == "body":
            return dataclasses.replace(rest, global_orient=out.rotmats[:, 0], body_pose=out.rotmats[:, 1:22],
                                       betas=fit_coefficients(out.betas, m.num_betas))
        if self.part == "hand":
            params = dataclasses.replace(rest, right_hand_pose=out.rotmats)
        else:
            params = dataclasses.replace(rest, jaw_pose=out.rotmats[:, 0],
                                         expression=fit_coefficients(out.expression, m.num_expression))
        if out.global_orient is not None:
            params = dataclasses.replace(params, global_orient=out.global_orient,
                                         betas=fit_coefficients(out.betas, m.num_betas))
        return params

    def __call__(self, items: Sequence[EvalItem]) -> dict[str, torch.Tensor]:
        """Per-sample metrics of the network's predictions on ``items``."""
        return self.metrics(self.predict(items), items)

    @torch.no_grad()
    def metrics(self, pred: SMPLXParams, items: Sequence[EvalItem]) -> dict[str, torch.Tensor]:
        """Per-sample metrics, (B,) float64 CPU tensors, of predicted parameters ``pred`` (B)
        against ``items`` (NaN = no value). Passing the ground-truth parameters gives ~0.

        Raises:
            ValueError: the items' part is not the network's, or a GT mesh has another vertex
                count than the body model.
        """
        batch = collate_training_samples([it.sample for it in items])
        if batch.part != self.part:
            raise ValueError(f"the network is a {self.part} subnetwork but the samples are {batch.part} crops; "
                             f"evaluate it on a {self.part} dataset")
        model_out = self.body_model(self._to_model(pred))
        pj = model_out.joints[:, self.joint_index].double().cpu()
        gj, conf = batch.joints3d.double(), batch.joints3d_conf.double()
        root_ok = conf[:, self.root] > 0
        values = {"mpjpe_mm": torch.where(root_ok, mpjpe_mm(pj, gj, root=self.root, weights=conf), torch.nan),
                  "pa_mpjpe_mm": pa_mpjpe_mm(pj, gj, weights=conf)}
        if self.part == "body":
            part = WHOLEBODY137_PARTS.body
            values["mpjpe_body_mm"] = torch.where(root_ok, part_mpjpe_mm(pj, gj, part=part, weights=conf), torch.nan)
            values["pa_mpjpe_body_mm"] = part_pa_mpjpe_mm(pj, gj, part=part, weights=conf)
        pv = model_out.vertices.double().cpu()
        values.update(self._vertex_metrics(pv, items))
        if self.part == "face":
            values["rmse3d_mm"] = self._scan_rmse(pj, pv, items, values["rmse3d_mm"])
        return {k: v for k, v in values.items() if k not in self.unsupported}

    def _scan_rmse(self, pj: torch.Tensor, pv: torch.Tensor, items: Sequence[EvalItem],
                   rmse: torch.Tensor) -> torch.Tensor:
        """``rmse`` (B,) with the scan-based 3DRMSE where an item has a GT scan (module doc)."""
        out = rmse.clone()
        for b, it in enumerate(items):
            scan = it.gt_scan
            if scan is None:
                continue
            pred_landmarks = pj[b, list(scan.landmark_joints)][None]
            fit = fit_similarity(pred_landmarks, scan.landmarks.double()[None])
            aligned = torch.as_tensor(fit.apply(pv[b, self.vertices][None].numpy()))
            out[b] = rmse_3d_mm(aligned, scan.points.double()[None], procrustes=False, nearest=True)[0]
        return out

    def _to_model(self, params: SMPLXParams) -> SMPLXParams:
        return to_body_model(self.body_model, params)

    def _vertex_metrics(self, pv: torch.Tensor, items: Sequence[EvalItem]) -> dict[str, torch.Tensor]:
        """PVE / PA-PVE (and face 3DRMSE) of predicted meshes ``pv`` (B, V, 3) float64."""
        gv, has = ground_truth_meshes(self.body_model, items)
        out = mesh_errors_mm(self.body_model, pv, gv, has, root=ROOT_JOINT[self.part], vertices=self.vertices)
        if self.part == "face":
            out["rmse3d_mm"] = torch.full((len(items),), torch.nan, dtype=torch.float64)
            rows = torch.nonzero(has).squeeze(1)
            if len(rows):
                pf, gf = pv[:, self.vertices], gv[:, self.vertices]
                out["rmse3d_mm"][rows] = rmse_3d_mm(pf[rows], gf[rows], procrustes=True, nearest=False)
        return out


def to_body_model(body_model: BodyModel, params: SMPLXParams) -> SMPLXParams:
    """``params`` (B) with betas / expression fitted to the model's sizes, float32 on its device."""
    fitted = dataclasses.replace(params, betas=fit_coefficients(params.betas, body_model.num_betas),
                                 expression=fit_coefficients(params.expression, body_model.num_expression))
    return fitted.to(body_model.layer.v_template.device, torch.float32)


@torch.no_grad()
def ground_truth_meshes(body_model: BodyModel, items: Sequence[EvalItem]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, V, 3) float64 CPU GT meshes (zeros where none) and (B,) bool: which samples have one.

    A mesh is ``item.gt_vertices`` (EHF) or, where every SMPL-X field of ``item.sample.params``
    is valid (``params_valid``), the body model on those parameters.

    Raises:
        ValueError: a GT mesh with another vertex count than the body model.
    """
    v = int(body_model.layer.lbs_weights.shape[0])
    from_params = torch.stack([it.sample.params_valid.all() for it in items])
    meshes = torch.zeros(len(items), v, 3, dtype=torch.float64)
    if bool(from_params.any()):
        idx = torch.nonzero(from_params).squeeze(1)
        chosen = SMPLXParams.cat([items[int(i)].sample.params for i in idx])
        meshes[idx] = body_model(to_body_model(body_model, chosen)).vertices.double().cpu()
    for b, it in enumerate(items):
        if it.gt_vertices is not None:
            if it.gt_vertices.shape[0] != v:
                raise ValueError(f"GT mesh of sample {it.sample.index} ({it.sample.source}) has "
                                 f"{it.gt_vertices.shape[0]} vertices, the body model {v}; evaluate with the "
                                 "SMPL-X model the dataset was fitted with (--model-dir)")
            meshes[b] = it.gt_vertices.double().cpu()
    has = from_params | torch.tensor([it.gt_vertices is not None for it in items])
    return meshes, has


def mesh_errors_mm(body_model: BodyModel, pred_vertices: torch.Tensor, gt_vertices: torch.Tensor, has: torch.Tensor,
                   *, root: str, vertices: Optional[torch.Tensor] = None) -> dict[str, torch.Tensor]:
    """``pve_mm`` / ``pa_pve_mm`` (B,) float64: PVE after aligning each mesh at its ``root`` joint
    (an SMPL-X joint name) regressed from that mesh with ``J_regressor``, and PA-PVE; NaN where
    ``has`` (B,) is False.

    Args:
        pred_vertices, gt_vertices: (B, V, 3) float64 CPU meshes, metres.
        vertices: (V',) indices of the evaluated vertices (a part's), or None for all.
    """
    nan = torch.full((pred_vertices.shape[0],), torch.nan, dtype=torch.float64)
    if not bool(has.any()):
        return {"pve_mm": nan, "pa_pve_mm": nan.clone()}
    regressor = body_model.layer.J_regressor[SMPLX_JOINT_NAMES.index(root)].double().cpu()  # (V,)
    p_root = torch.einsum("v,bvc->bc", regressor, pred_vertices)
    g_root = torch.einsum("v,bvc->bc", regressor, gt_vertices)
    pv, gv = pred_vertices, gt_vertices
    if vertices is not None:
        pv, gv = pv[:, vertices], gv[:, vertices]
    weights = has[:, None].double().expand(-1, pv.shape[1])
    return {"pve_mm": pve_mm(pv, gv, pred_root=p_root, gt_root=g_root, weights=weights),
            "pa_pve_mm": pa_pve_mm(pv, gv, weights=weights)}
