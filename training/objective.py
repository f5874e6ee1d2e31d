"""The Body subnetwork's training objective on any training batch (paper sec. 4.1-4.4).

``FlaggedObjective`` holds what every part's objective shares (the flag-weighted terms below,
the crop camera, the soft renderer on the part's labelled faces); ``BodyObjective`` adds the
body's prediction and L_BM targets, ``training.part_objective.PartObjective`` the hand's and
face's.

``BodyObjective`` turns a :class:`~robosmplx_core.nets.subnet.SubnetOutput` and a
:class:`~robosmplx_core.data.datasets.common.TrainingBatch` (any dataset adapter; a
:class:`~robosmplx_core.data.synthetic.SyntheticBatch` reads as one with every flag set) into
the combined loss of ``robosmplx_core.losses``:

- the predicted SMPL-X (22 rotations, betas; hands, jaw and eyes at rest, neutral face) goes
  through the body model (``use_face_contour=True``) to the 137 whole-body joints and the mesh;
- L_3D on root-aligned joints, L_2D through the perspective camera recovered from the
  predicted weak-perspective crop camera (``geometry.camera.crop_cam_to_full_transl`` with the
  crop's own intrinsics, the inverse of ``data.synthetic.crop_camera``), L_BM on rotations and betas, L_segm on the Localization
  Module's part maps, L_con (eq. 2) when the batch is anchors followed by positives, L_proj on
  the soft-rendered part probabilities of the predicted mesh (``render.soft``) at the part-map
  resolution;
- plus the Localization Module's own keypoint term (Hand4Whole's ``joint_img`` loss): L1 between
  the soft-argmax joints K and the ground truth in the volume's normalised coordinates
  (x, y from the crop pixels, z = depth relative to the pelvis over ``volume_depth_m / 2``);
- plus, for a network with the 2D keypoint stage (``nets.keypoints``, not in the paper), the
  heatmap term: per keypoint, the summed squared difference between its heatmap and a
  unit-peak Gaussian (``heatmap_sigma`` cells) at the ground truth, averaged over the keypoints
  with 2D (``heatmap_loss``, also used alone to train that stage first);
- plus, for a network with the facing branch (``nets.facing``, not in the paper), binary
  cross-entropy between its logits and whether the body faces the camera (``facing_loss``,
  from the ground-truth global orientation).

Missing ground truth is weighted out by the batch's flags (``training.targets``): L_3D by
``joints3d_conf`` (0 without ``has_joints3d``), L_2D by ``joints2d_conf`` times
``joints_visible``, L_BM rotations / betas where ``params_valid``, L_segm where
``has_segmentation`` (pixels ``IGNORE_LABEL`` = 255 ignored), L_proj where there is a
segmentation or a person mask (mask only: background outside the mask, the rest ignored),
L_con over the joints with 3D (an anchor without 3D has no term), and the volume term's x, y
from the 2D joints, its depth only with 3D joints (and the pelvis). A term without any valid
target in the batch is exactly 0 (never NaN).

Glossary: B batch, J = 137 joints, V vertices, S crop side, s part-map side.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.parts import part_labels
from robosmplx_core.data.datasets.common import TrainingBatch
from robosmplx_core.data.synthetic import SyntheticBatch, resize_segmentation
from robosmplx_core.geometry.camera import crop_cam_to_full_transl
from robosmplx_core.losses import LossPredictions, LossResult, LossTargets, LossWeights, compute_losses
from robosmplx_core.losses.segmentation import projected_segmentation_loss, silhouette_loss
from robosmplx_core.nets.facing import facing_targets
from robosmplx_core.nets.keypoints import gaussian_heatmaps
from robosmplx_core.nets.specs import BODY_SPEC, PartSpec, spec_joint_indices_144
from robosmplx_core.nets.subnet import SubnetOutput
from robosmplx_core.render.soft import SoftRasterizer
from robosmplx_core.render.zbuffer import project_to_raster
from robosmplx_core.types import SMPLXParams
from training.targets import PELVIS, BatchWeights, batch_weights

__all__ = ["PELVIS", "ObjectiveConfig", "BodyPrediction", "ParamTargets", "FlaggedObjective", "BodyObjective"]


@dataclass(frozen=True)
class ObjectiveConfig:
    """Loss weights and the extra settings of the body objective.

    weights: the paper's terms (see ``losses.LossWeights``); the body subnetwork has no
        expression and no part boxes, so those two are 0.
    volume_keypoints: weight of the Localization Module's keypoint term (0 = off).
    volume_depth_m: depth span of the joint volumes, metres (z = +-1 at +-half of it).
    render_size: side of the soft-rendered part maps for L_proj (the part-map size, 64).
    heatmap_keypoints: weight of the 2D keypoint stage's heatmap term (networks with that
        stage only; 0 = off).
    heatmap_sigma: std of its Gaussian targets, in heatmap cells (4 crop pixels each).
    facing: weight of the facing branch's term (networks with that branch only; 0 = off).
    """

    weights: LossWeights = field(default_factory=lambda: LossWeights(bm_expression=0.0, boxes=0.0))
    volume_keypoints: float = 10.0
    volume_depth_m: float = 2.0
    render_size: int = 64
    heatmap_keypoints: float = 1.0
    heatmap_sigma: float = 1.5
    facing: float = 1.0

    def __post_init__(self) -> None:
        if self.volume_keypoints < 0 or self.volume_depth_m <= 0 or self.render_size < 8:
            raise ValueError("ObjectiveConfig: volume_keypoints >= 0, volume_depth_m > 0 and render_size >= 8 "
                             f"expected, got {self.volume_keypoints}, {self.volume_depth_m}, {self.render_size}")
        if self.facing < 0:
            raise ValueError(f"ObjectiveConfig.facing: expected a weight >= 0, got {self.facing}")
        if self.heatmap_keypoints < 0 or not self.heatmap_sigma > 0:
            raise ValueError("ObjectiveConfig: heatmap_keypoints >= 0 and heatmap_sigma > 0 expected, got "
                             f"{self.heatmap_keypoints}, {self.heatmap_sigma}")


@dataclass(frozen=True)
class BodyPrediction:
    """The predicted body in the crop camera.

    params: SMPLXParams (B) with ``transl`` from the crop camera; joints (B, 137, 3) and
    vertices (B, V, 3) in the body-model frame WITHOUT ``transl`` (root-relative metrics use
    them directly); transl (B, 3) metres.
    """

    params: SMPLXParams
    joints: torch.Tensor
    vertices: torch.Tensor
    transl: torch.Tensor


@dataclass(frozen=True)
class ParamTargets:
    """What L_BM compares for one batch (each ``has_*`` weight: ``None`` = all 1).

    pred_rotations, gt_rotations: (B, R, 3, 3); has_rotations: (B, R) or None.
    pred_betas, gt_betas: (B, NB); has_betas: (B,) or None.
    pred_expression, gt_expression: (B, NE) or None (no expression term); has_expression: (B,) or None.
    """

    pred_rotations: torch.Tensor
    gt_rotations: torch.Tensor
    has_rotations: Optional[torch.Tensor]
    pred_betas: torch.Tensor
    gt_betas: torch.Tensor
    has_betas: Optional[torch.Tensor]
    pred_expression: Optional[torch.Tensor] = None
    gt_expression: Optional[torch.Tensor] = None
    has_expression: Optional[torch.Tensor] = None


class FlaggedObjective(nn.Module):
    """The flag-weighted loss shared by the Body and the part objectives (module docstring).

    A subclass gives :meth:`predict` (the prediction in the crop camera: joints of the spec and
    vertices without ``transl``, root-aligned or not) and :meth:`param_targets` (L_BM); this
    class adds L_3D / L_con on joints aligned at ``root`` (index in the spec's joints), L_2D,
    L_segm, L_proj on the soft-rendered faces of the spec's part labels, and the volume term.
    """

    root: int = PELVIS

    def __init__(self, *, body_model: BodyModel, spec: PartSpec, config: ObjectiveConfig | None = None) -> None:
        super().__init__()
        self.config = config or ObjectiveConfig()
        self.spec = spec
        self.body_model = body_model
        for p in self.body_model.parameters():
            p.requires_grad_(False)
        index = torch.tensor(spec_joint_indices_144(spec), dtype=torch.long)
        if body_model.num_joints < int(index.max()) + 1:
            raise ValueError(f"{type(self).__name__}: the body model must be built with use_face_contour=True "
                             f"(144 joints), got {body_model.num_joints}")
        self.register_buffer("joint_index", index, persistent=False)
        labels = part_labels(body_model, spec.name).face_labels.to(torch.long)
        faces = torch.as_tensor(body_model.faces.astype("int64"))
        keep = labels >= 0  # the part's own faces (every face for the body)
        self.register_buffer("face_labels", labels[keep], persistent=False)
        self.register_buffer("faces", faces[keep], persistent=False)
        size = self.config.render_size
        self.renderer = SoftRasterizer(height=size, width=size, near=0.05, far=40.0, cull_backfaces=True)

    def predict(self, out: SubnetOutput, K: torch.Tensor, crop_size: int) -> BodyPrediction:  # pragma: no cover
        raise NotImplementedError

    def param_targets(self, out: SubnetOutput, batch: TrainingBatch | SyntheticBatch,
                      bw: BatchWeights) -> ParamTargets:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def crop_transl(camera: torch.Tensor, K: torch.Tensor, crop_size: int) -> torch.Tensor:
        """(B, 3) metres: the translation that the weak-perspective crop camera (B, 3) gives in
        the crop's own pinhole ``K`` (B, 3, 3) (the inverse of ``data.synthetic.crop_camera``)."""
        # the crop is the whole image of its own K, whose principal point need not be the crop centre
        b_xy = torch.full((camera.shape[0], 2), crop_size / 2.0, dtype=K.dtype, device=K.device)
        return crop_cam_to_full_transl(camera, b_xy, float(crop_size), torch.full_like(b_xy, float(crop_size)),
                                       K[:, 0, 0], principal_point_xy=K[:, :2, 2])

    def forward(self, out: SubnetOutput, batch: TrainingBatch | SyntheticBatch, *,
                paired_positives: bool = False) -> LossResult:
        """Combined loss; ``paired_positives``: the batch is N anchors then their N positives.
        Every term is weighted by the batch's flags (module docstring)."""
        crop = int(batch.image.shape[-1])
        pred = self.predict(out, batch.K, crop)
        w = self.config.weights
        bw = batch_weights(batch, root=self.root)
        bm = self.param_targets(out, batch, bw)
        # without the Localization Module (ablation baseline) there are no part maps nor joints K
        segm_logits = self.segm_logits(out)
        seg_size = segm_logits.shape[-1] if segm_logits is not None else self.config.render_size
        seg = resize_segmentation(batch.segmentation, seg_size)
        box_pred, box_gt = self.box_terms(out, batch)
        probs = self._render(pred, batch.K, crop) if (w.projection or w.silhouette) else None
        predictions = LossPredictions(joints=pred.joints, transl=pred.transl, rotations=bm.pred_rotations,
                                      betas=bm.pred_betas, expression=bm.pred_expression,
                                      segm_logits=segm_logits, rendered_part_probs=probs, **box_pred)
        targets = LossTargets(joints_3d=batch.joints3d, joints_3d_weights=bw.joints3d,
                              keypoints_2d_px=batch.joints2d, keypoints_2d_weights=bw.joints2d,
                              image_size_wh=(crop, crop), intrinsics=batch.K, rotations=bm.gt_rotations,
                              has_rotations=bm.has_rotations, betas=bm.gt_betas, has_betas=bm.has_betas,
                              expression=bm.gt_expression, has_expression=bm.has_expression,
                              part_labels=seg, has_part_labels=bw.segmentation, paired_positives=paired_positives,
                              **box_gt)
        if bm.pred_expression is None:
            w = replace(w, bm_expression=0.0)
        mask_only = bw.mask_only_labels(seg_size) if (w.projection or w.silhouette) else None
        if mask_only is None:  # every rendered-mask target is a segmentation: one pass (synthetic)
            result = compute_losses(predictions, targets, w, root_index=self.root)
        else:
            result = self._with_mask_projection(predictions, targets, w, mask_only, bw)
        total, extra = result.total, {}
        heatmaps, pred_k = self.keypoint_heatmaps(out), self.volume_joints(out)
        use_heatmaps = bool(self.config.heatmap_keypoints) and heatmaps is not None
        use_volume = bool(self.config.volume_keypoints) and pred_k is not None
        xy = self.volume_xy(out, batch, crop) if use_heatmaps or use_volume else None  # both terms' targets
        if use_heatmaps:
            term = self.config.heatmap_keypoints * self.heatmap_loss(heatmaps, batch, bw=bw, xy=xy)
            total, extra["heatmap_keypoints"] = total + term, float(term.detach())
        if use_volume:
            volume = self.config.volume_keypoints * self._volume_loss(pred_k, xy, batch, bw)
            total, extra["volume_keypoints"] = total + volume, float(volume.detach())
        facing = self.facing_logits(out)
        if self.config.facing and facing is not None:
            term = self.config.facing * self.facing_loss(facing, batch, bw=bw)
            total, extra["facing"] = total + term, float(term.detach())
        return replace(result, total=total, extra=extra)

    def facing_loss(self, logits: torch.Tensor, batch: TrainingBatch | SyntheticBatch, *,
                    bw: BatchWeights | None = None) -> torch.Tensor:
        """The facing branch's term (unweighted): binary cross-entropy of ``logits`` (B,) against
        ``nets.facing.facing_targets`` of the batch's global orientation, over the samples whose
        global orientation is valid; 0 when none is."""
        bw = bw if bw is not None else batch_weights(batch, root=self.root)
        target = facing_targets(batch.params.global_orient.to(logits.dtype))
        per_sample = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if bw.rotations is None:
            return per_sample.mean() if per_sample.numel() else logits.sum() * 0.0
        weight = bw.rotations[:, 0].to(logits.dtype)
        return (per_sample * weight).sum() / weight.sum().clamp(min=1.0)

    def heatmap_loss(self, heatmaps: torch.Tensor, batch: TrainingBatch | SyntheticBatch, *,
                     bw: BatchWeights | None = None, xy: torch.Tensor | None = None) -> torch.Tensor:
        """The 2D keypoint stage's term (unweighted): heatmaps ``(B, N, H, H)`` of the spec's first
        N joints against Gaussians at the batch's 2D joints, weighted by their 2D weights; 0 when
        no keypoint has 2D. ``xy`` (B, >= N, 2): the ground truth in the heatmaps' normalised
        coordinates; ``None`` = the batch's 2D joints in its own crop (``2 u / S - 1``)."""
        n, size = heatmaps.shape[1], heatmaps.shape[-1]
        bw = bw if bw is not None else batch_weights(batch, root=self.root)
        if xy is None:
            xy = 2.0 * batch.joints2d / int(batch.image.shape[-1]) - 1.0
        target = gaussian_heatmaps(xy[:, :n], size, self.config.heatmap_sigma)
        per_joint = ((heatmaps - target.to(heatmaps.dtype)) ** 2).sum(dim=(2, 3))  # (B, N)
        weight = bw.joints2d[:, :n].to(heatmaps.dtype)
        return (per_joint * weight).sum() / weight.sum().clamp(min=1.0)

    # what a subclass with another network output (the whole-body network) overrides
    def segm_logits(self, out) -> Optional[torch.Tensor]:
        """(B, P + 1, s, s) part-map logits for L_segm, or None (no Localization Module)."""
        return out.segm_logits

    def volume_joints(self, out) -> Optional[torch.Tensor]:
        """(B, J, 3) soft-argmax joints K for the volume term, or None."""
        return out.joints

    def keypoint_heatmaps(self, out) -> Optional[torch.Tensor]:
        """(B, N, H, H) heatmaps of the 2D keypoint stage for the heatmap term, or None."""
        return getattr(out, "heatmaps", None)

    def facing_logits(self, out) -> Optional[torch.Tensor]:
        """(B,) logits of the facing branch for its term, or None."""
        return getattr(out, "facing", None)

    def volume_xy(self, out, batch: TrainingBatch | SyntheticBatch, crop: int) -> torch.Tensor:
        """(B, J, 2) ground-truth x, y of the volume and heatmap terms in the network crop's
        normalised [-1, 1] coordinates (here: the input crop's)."""
        return 2.0 * batch.joints2d / crop - 1.0

    def box_terms(self, out, batch: TrainingBatch | SyntheticBatch) -> tuple[dict, dict]:
        """L_box inputs: extra ``LossPredictions`` and ``LossTargets`` fields (none here)."""
        return {}, {}

    def _with_mask_projection(self, predictions: LossPredictions, targets: LossTargets, w: LossWeights,
                              labels: torch.Tensor, bw: BatchWeights) -> LossResult:
        """L_proj (and its silhouette variant) on segmentations and person masks (B, s, s)
        ``labels``; the other terms as usual."""
        result = compute_losses(predictions, targets, replace(w, projection=0.0, silhouette=0.0),
                                root_index=self.root)
        probs, has = predictions.rendered_part_probs, bw.rendered_mask
        total, terms = result.total, {}
        if w.projection:
            terms["projection"] = projected_segmentation_loss(probs, labels, gt_mask=has)
            total = total + w.projection * terms["projection"]
        if w.silhouette:
            terms["silhouette"] = silhouette_loss(1.0 - probs[:, 0], labels, gt_mask=has)
            total = total + w.silhouette * terms["silhouette"]
        logged = {k: float(v.detach()) for k, v in terms.items()}
        return replace(result, total=total,
                       breakdown=replace(result.breakdown, total=float(total.detach()), **logged))

    def _volume_loss(self, pred_k: torch.Tensor, xy: torch.Tensor, batch: TrainingBatch | SyntheticBatch,
                     bw: BatchWeights) -> torch.Tensor:
        """L1 between soft-argmax joints (B, J, 3) and the GT in volume coordinates (x, y given,
        (B, J, 2)): x, y weighted by the 2D weights, z by the 3D ones (depth relative to the root
        needs the root)."""
        r = self.root
        z = (batch.joints3d[..., 2] - batch.joints3d[:, r:r + 1, 2]) / (0.5 * self.config.volume_depth_m)
        gt = torch.cat([xy, z[..., None]], dim=-1).clamp(-1.0, 1.0)
        weight = bw.volume(pred_k.dtype)  # (B, J, 3)
        return ((pred_k - gt).abs() * weight).sum() / weight.sum().clamp(min=1.0)

    def _render(self, pred: BodyPrediction, K: torch.Tensor, crop: int) -> torch.Tensor:
        """(B, P + 1, s, s) soft part probabilities of the predicted mesh's part faces at the part-map size."""
        size = self.config.render_size
        K_small = K.clone()
        K_small[:, :2] *= size / crop
        verts_cam = pred.vertices + pred.transl[:, None]
        verts_px = project_to_raster(verts_cam, K_small)
        return self.renderer(verts_px, self.faces, self.face_labels, num_parts=self.spec.num_parts).part_probs


class BodyObjective(FlaggedObjective):
    """Loss of the Body subnetwork (module docstring). Build once; call per batch."""

    def __init__(self, *, body_model: BodyModel, config: ObjectiveConfig | None = None) -> None:
        super().__init__(body_model=body_model, spec=BODY_SPEC, config=config)

    def body(self, rotmats: torch.Tensor, betas: torch.Tensor) -> tuple[SMPLXParams, torch.Tensor, torch.Tensor]:
        """The body model at zero translation on rotations (B, 22, 3, 3) (global + 21 body) and
        betas (B, NB); hands, jaw and eyes at rest, neutral face. Returns the params, the 137
        whole-body joints (B, 137, 3) and the vertices (B, V, 3)."""
        rest = SMPLXParams.zeros(rotmats.shape[0], num_betas=self.body_model.num_betas,
                                 num_expression=self.body_model.num_expression, device=rotmats.device)
        params = replace(rest, global_orient=rotmats[:, 0], body_pose=rotmats[:, 1:22], betas=betas)
        model_out = self.body_model(params)
        return params, model_out.joints[:, self.joint_index], model_out.vertices

    def predict(self, out: SubnetOutput, K: torch.Tensor, crop_size: int) -> BodyPrediction:
        """The body model on the network's output; ``K`` (B, 3, 3) crop intrinsics."""
        transl = self.crop_transl(out.camera, K, crop_size)
        params, joints, vertices = self.body(out.rotmats, out.betas)
        return BodyPrediction(params=replace(params, transl=transl), joints=joints, vertices=vertices, transl=transl)

    def param_targets(self, out: SubnetOutput, batch: TrainingBatch | SyntheticBatch,
                      bw: BatchWeights) -> ParamTargets:
        """L_BM on the 22 body rotations and the betas (no expression)."""
        gt_rot = torch.cat([batch.params.global_orient[:, None], batch.params.body_pose], dim=1)
        return ParamTargets(pred_rotations=out.rotmats, gt_rotations=gt_rot, has_rotations=bw.rotations,
                            pred_betas=out.betas, gt_betas=batch.params.betas, has_betas=bw.betas)
