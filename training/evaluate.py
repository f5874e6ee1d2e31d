"""Held-out evaluation of a Body subnetwork on synthetic samples, and the mean-pose baseline.

Metrics (``robosmplx_core.eval``, millimetres): MPJPE on the 137 whole-body joints after pelvis
alignment, PA-MPJPE, and PVE on all vertices after pelvis alignment. Ground-truth joints are
the sample's; ground-truth vertices come from the body model on the sample's parameters. Also
the mean angle (degrees) between predicted and true global orientation (``orient_deg``): the
camera-frame orientation that MPJPE after pelvis alignment still pays for.

The mean-pose baseline predicts, for every image, the same parameters: per-joint mean rotation
of the training pool (chordal mean projected onto SO(3)) and the mean betas.
``mean_prediction`` builds the same kind of constant from a network's own predictions: scoring
it shows how much of a network's result depends on the image at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

from robosmplx_core.data.augment import translate_scale
from robosmplx_core.data.synthetic import SyntheticSample, collate_samples
from robosmplx_core.eval import MetricAccumulator, mpjpe_mm, pa_mpjpe_mm, pve_mm, root_points
from robosmplx_core.geometry import geodesic_angle
from robosmplx_core.nets.facing import facing_targets
from robosmplx_core.nets.sides import side_pairs
from robosmplx_core.nets.subnet import PartSubnetwork, normalize_images
from training.loop import batch_to
from training.objective import PELVIS, BodyObjective

SHIFTS: dict[str, dict] = {  # the paper's positional protocol (tables 4, 5, 7)
    "normal": {"translate": (0.0, 0.0), "scale": 1.0},
    "translate_x+0.2": {"translate": (0.2, 0.0), "scale": 1.0},
    "translate_x-0.2": {"translate": (-0.2, 0.0), "scale": 1.0},
    "translate_y+0.2": {"translate": (0.0, 0.2), "scale": 1.0},
    "translate_y-0.2": {"translate": (0.0, -0.2), "scale": 1.0},
    "scale_1.3": {"translate": (0.0, 0.0), "scale": 1.3},
    "scale_0.7": {"translate": (0.0, 0.0), "scale": 0.7},
}


@dataclass(frozen=True)
class MeanPose:
    """Constant prediction: rotations (22, 3, 3) (global + 21 body) and betas (10,)."""

    rotations: torch.Tensor
    betas: torch.Tensor


def mean_pose(samples: Sequence[SyntheticSample]) -> MeanPose:
    """Chordal mean of each of the 22 body rotations and the mean betas over ``samples``."""
    rots = torch.stack([torch.cat([s.params.global_orient, s.params.body_pose[0]]) for s in samples])
    betas = torch.stack([s.params.betas[0] for s in samples]).mean(0)
    return MeanPose(rotations=chordal_mean(rots).float(), betas=betas.float())


def chordal_mean(rotations: torch.Tensor) -> torch.Tensor:
    """(N, R, 3, 3) -> (R, 3, 3): the mean of each rotation projected back onto SO(3)."""
    u, _, vh = torch.linalg.svd(rotations.double().mean(0))
    d = torch.sign(torch.linalg.det(u @ vh))
    fix = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return (u @ fix @ vh).to(rotations.dtype)


@torch.no_grad()
def evaluate(objective: BodyObjective, samples: Sequence[SyntheticSample], *, net: PartSubnetwork | None = None,
             baseline: MeanPose | None = None, true_global_orient: bool = False,
             batch_size: int = 16) -> dict[str, float | None]:
    """MPJPE / PA-MPJPE / PVE (mm) and global-orientation error (degrees, ``orient_deg``) of
    ``net`` (or of the constant ``baseline``) on ``samples``.

    ``true_global_orient=True`` (baseline only) gives the constant each sample's true global
    orientation: an oracle that shows how far the right orientation alone gets. Runs on the
    device of ``objective``'s body model (``net`` must be on it too).
    """
    if (net is None) == (baseline is None):
        raise ValueError("evaluate: pass exactly one of net= and baseline=")
    if true_global_orient and baseline is None:
        raise ValueError("evaluate: true_global_orient=True needs baseline= (it replaces the constant's orientation)")
    acc = MetricAccumulator()
    device = next(objective.body_model.buffers()).device  # the body model's device (where net must be too)
    for start in range(0, len(samples), batch_size):
        batch = batch_to(collate_samples(list(samples[start:start + batch_size])), device)
        b = batch.image.shape[0]
        if net is not None:
            out = net(normalize_images(batch.image))
            params, joints, verts = objective.body(out.rotmats, out.betas)
        else:
            rotations = baseline.rotations.to(device).expand(b, 22, 3, 3)
            if true_global_orient:
                rotations = torch.cat([batch.params.global_orient[:, None].to(rotations), rotations[:, 1:]], dim=1)
            params, joints, verts = objective.body(rotations, baseline.betas.to(device).expand(b, -1))
        gt_joints = batch.joints3d.double()
        gt_verts = objective.body_model(batch.params).vertices.double()  # camera frame, as gt_joints
        acc.update(mpjpe=mpjpe_mm(joints.double(), gt_joints, root=PELVIS),
                   pa_mpjpe=pa_mpjpe_mm(joints.double(), gt_joints),
                   pve=pve_mm(verts.double(), gt_verts, pred_root=root_points(joints.double(), PELVIS),
                              gt_root=root_points(gt_joints, PELVIS)),
                   orient_deg=torch.rad2deg(geodesic_angle(params.global_orient.double(),
                                                           batch.params.global_orient.double())))
    means = acc.summary().means
    return {**{f"{name}_mm": means[name] for name in ("mpjpe", "pa_mpjpe", "pve")}, "orient_deg": means["orient_deg"]}


@torch.no_grad()
def mean_prediction(net: PartSubnetwork, samples: Sequence[SyntheticSample], *, batch_size: int = 16) -> MeanPose:
    """The constant made of ``net``'s own predictions on ``samples``: the chordal mean of each of
    its 22 predicted body rotations and its mean betas. Scored with ``evaluate(baseline=...)`` it
    is what the network would get if it ignored the image; runs on ``net``'s device."""
    if not samples:
        raise ValueError("mean_prediction: no samples")
    device = next(net.parameters()).device
    rots, betas = [], []
    for start in range(0, len(samples), batch_size):
        images = collate_samples(list(samples[start:start + batch_size])).image.to(device)
        out = net(normalize_images(images))
        rots.append(out.rotmats[:, :22].cpu())
        betas.append(out.betas.cpu())
    return MeanPose(rotations=chordal_mean(torch.cat(rots)).float(), betas=torch.cat(betas).mean(0).float())


@torch.no_grad()
def keypoint_errors_px(net: PartSubnetwork, samples: Sequence[SyntheticSample], *,
                       batch_size: int = 16) -> dict[str, float]:
    """Median and mean pixel distance between ``net``'s decoded 2D keypoints (its keypoint
    stage, ``nets.keypoints``) and the samples' 2D joints, over the keypoints inside the crop;
    and ``left_right_swapped``: over the left/right keypoint pairs (by joint name) with both
    inside the crop, the fraction whose two predictions lie closer to the swapped ground truth
    (0 = sides always right, 0.5 = the sides are not told apart: the person's facing direction
    is not read from the image; NaN without pairs). With the facing branch (``nets.facing``) also
    ``facing_right``: the fraction of samples whose facing logit has the ground truth's sign,
    and ``facing_right_towards_away`` over those whose body faces within 60 degrees of straight
    at or away from the camera (NaN without such samples).

    Raises:
        ValueError: ``net`` has no keypoint stage, or there are no samples.
    """
    if net.keypoint_head is None:
        raise ValueError("keypoint_errors_px: the network has no 2D keypoint stage (keypoint_joints=0)")
    if not samples:
        raise ValueError("keypoint_errors_px: no samples")
    device = next(net.parameters()).device
    names = net.spec.joint_names[:net.keypoint_head.num_keypoints]
    errors, swapped, facing, frontal = [], [], [], []
    for start in range(0, len(samples), batch_size):
        batch = collate_samples(list(samples[start:start + batch_size]))
        out = net(normalize_images(batch.image.to(device)))
        keypoints = out.keypoints2d.cpu()
        if out.facing is not None:
            orient = batch.params.global_orient
            facing.append((out.facing.cpu() > 0) == facing_targets(orient).bool())
            frontal.append(orient[:, 2, 2].abs() > 0.5)
        n, crop = keypoints.shape[1], batch.image.shape[-1]
        pred, gt, visible = (keypoints + 1.0) * (crop / 2.0), batch.joints2d[:, :n], batch.joints_visible[:, :n].bool()
        errors.append((pred - gt).norm(dim=-1)[visible])
        swapped.append(left_right_swaps(pred, gt, visible, names))
    flat, sides = torch.cat(errors).double(), torch.cat(swapped).double()
    result = {"median_px": float(flat.median()), "mean_px": float(flat.mean()),
              "left_right_swapped": float(sides.mean()) if sides.numel() else float("nan")}
    if facing:
        right, towards = torch.cat(facing).double(), torch.cat(frontal)
        result["facing_right"] = float(right.mean())
        result["facing_right_towards_away"] = float(right[towards].mean()) if towards.any() else float("nan")
    return result


def left_right_swaps(pred: torch.Tensor, gt: torch.Tensor, visible: torch.Tensor,
                     names: Sequence[str]) -> torch.Tensor:
    """For each left/right pair of ``names`` (``left_x`` / ``right_x``) of each sample with both
    ``visible``: are the two predictions closer to the swapped ground truth? ``pred``, ``gt``
    (B, N, 2), ``visible`` (B, N) bool -> (M,) bool, M = visible pairs."""
    left, right = (list(side) for side in side_pairs(names))
    if not left:
        return torch.zeros(0, dtype=torch.bool)
    as_is = (pred[:, left] - gt[:, left]).norm(dim=-1) + (pred[:, right] - gt[:, right]).norm(dim=-1)
    crossed = (pred[:, left] - gt[:, right]).norm(dim=-1) + (pred[:, right] - gt[:, left]).norm(dim=-1)
    return (crossed < as_is)[visible[:, left] & visible[:, right]]


def shifted(samples: Iterable[SyntheticSample], shift: str) -> list[SyntheticSample]:
    """``samples`` with the crop moved / scaled as ``SHIFTS[shift]`` (labels follow)."""
    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}: expected one of {sorted(SHIFTS)}")
    kw = SHIFTS[shift]
    if kw["translate"] == (0.0, 0.0) and kw["scale"] == 1.0:
        return list(samples)
    return [translate_scale(s, translate=kw["translate"], scale=kw["scale"]) for s in samples]
