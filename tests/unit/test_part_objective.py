"""PartObjective: the Hand and Face subnetworks' loss on synthetic part crops (stand-in body model).

The samples' own parameters, read in the part-only convention (``global_orient`` = the world
rotation of the right wrist / head, body at rest), give ~0 loss; every term is weighted by the
batch's flags (a term without any valid target is exactly 0); a tiny network learns.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from robosmplx_core.data.augment import AugmentConfig, positive_pair
from robosmplx_core.data.datasets.common import collate_training_samples, from_synthetic
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset, collate_samples
from robosmplx_core.geometry.camera import full_transl_to_crop_cam
from robosmplx_core.geometry.rotations import matrix_to_rot6d
from robosmplx_core.losses import LossWeights
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.nets.subnet import PartSubnetwork, SubnetOutput, normalize_images
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from training.objective import ObjectiveConfig
from training.part_objective import PartObjective, build_objective, world_rotation

TERMS = ("keypoints_3d", "keypoints_2d", "bm_rotations", "bm_betas", "bm_expression", "segmentation", "projection",
         "contrastive")
CONFIG = ObjectiveConfig(weights=LossWeights(boxes=0.0), render_size=16, volume_depth_m=0.3)


@pytest.fixture(scope="module")
def samples(model) -> dict[str, list]:
    """Per part: 3 anchors then their 3 contrastive positives (64 px crops)."""
    out = {}
    for part in ("hand", "face"):
        ds = SyntheticDataset(config=SyntheticConfig(seed=3, image_size=64, part=part, use_media_photos=False),
                              model=model)
        anchors = [ds[i] for i in range(3)]
        gen = torch.Generator().manual_seed(0)
        out[part] = anchors + [positive_pair(s, gen, AugmentConfig()) for s in anchors]
    return out


def _truth(objective: PartObjective, batch) -> SubnetOutput:
    """The batch's own parameters as a part-only network output; the camera is the translation
    that best places the predicted root-relative joints on the GT joints (least squares)."""
    p, b = batch.params, batch.image.shape[0]
    own = p.right_hand_pose if objective.part == "hand" else p.jaw_pose[:, None]
    out = SubnetOutput(rot6d=matrix_to_rot6d(own), rotmats=own, joints=None, segm_logits=None,
                       features=torch.zeros(b, 1), betas=p.betas,
                       expression=p.expression if objective.part == "face" else None,
                       camera=torch.tensor([[7.0, 0.0, 0.0]]).expand(b, 3),
                       global_orient=world_rotation(p, objective.frame_joint, objective.parents))
    pred = objective.predict(out, batch.K, 64)
    transl = (batch.joints3d - pred.joints).mean(dim=1)
    half = torch.full((b, 2), 32.0)
    cam = full_transl_to_crop_cam(transl, half, 64.0, 2 * half, batch.K[:, 0, 0], principal_point_xy=batch.K[:, :2, 2])
    return dataclasses.replace(out, camera=cam)


@pytest.mark.parametrize("part", ["hand", "face"])
def test_ground_truth_through_the_objective_gives_near_zero(model, samples, part) -> None:
    weights = LossWeights(segmentation=0.0, boxes=0.0)
    objective = PartObjective(body_model=model, part=part,
                              config=ObjectiveConfig(weights=weights, render_size=32, volume_depth_m=0.3))
    batch = collate_samples(samples[part][:3])
    out = _truth(objective, batch)
    terms = objective(out, batch).breakdown.as_dict()
    assert terms["bm_rotations"] == 0.0 and terms["bm_betas"] == 0.0 and terms["bm_expression"] == 0.0, terms
    pred = objective.predict(out, batch.K, 64)
    if part == "hand":  # exact: every hand joint hangs below the wrist
        assert terms["keypoints_3d"] < 1e-5 and terms["keypoints_2d"] < 1e-4, terms
        assert terms["projection"] < 0.08, terms  # 0.052: soft edges at 32 px
        with torch.no_grad():  # params.transl puts the model's right wrist (joint 21) at transl
            torch.testing.assert_close(model(pred.params).joints[:, 21], pred.transl, atol=1e-5, rtol=0)
    else:  # the face points are exact about the head joint; the neck->head offset turns with the
        # head's rotation, not the neck's (module docstring): measured 0.013 m / 0.0017
        names = part_spec("face").joint_names
        head = names.index("head")
        # every joint but the neck and the eyeballs (eye rotations are not predicted: 3.6 mm)
        keep = [j for j, n in enumerate(names) if n != "neck" and not n.endswith("eyeball")]
        gt_rel = batch.joints3d[:, keep] - batch.joints3d[:, head:head + 1]
        torch.testing.assert_close(pred.joints[:, keep] - pred.joints[:, head:head + 1], gt_rel, atol=1e-4, rtol=0)
        assert terms["keypoints_3d"] < 0.03 and terms["keypoints_2d"] < 0.005, terms
        assert terms["projection"] < 0.12, terms  # 0.084: soft edges at 32 px


@pytest.mark.parametrize("part", ["hand", "face"])
def test_terms_without_any_valid_target_are_exactly_zero(model, samples, part) -> None:
    objective = PartObjective(body_model=model, part=part, config=CONFIG)
    torch.manual_seed(1)
    net = PartSubnetwork(part_spec(part), part_only=True, **TINY_SUBNET_KWARGS)
    full = collate_training_samples([from_synthetic(s) for s in samples[part]])
    synthetic = collate_samples(samples[part])
    with torch.no_grad():
        out = net(normalize_images(full.image))
        a, b = objective(out, synthetic, paired_positives=True), objective(out, full, paired_positives=True)
    assert float(a.total) == float(b.total) and a.breakdown == b.breakdown  # flags all 1 = synthetic
    used = [k for k in TERMS if part == "face" or k != "bm_expression"]
    assert all(a.breakdown.as_dict()[k] > 0 for k in used), a.breakdown
    off = torch.zeros(6, dtype=torch.bool)
    masked = dataclasses.replace(full, params_valid=torch.zeros_like(full.params_valid), has_joints3d=off)
    terms = objective(out, masked, paired_positives=True).breakdown.as_dict()
    assert all(terms[k] == 0.0 for k in ("bm_rotations", "bm_betas", "bm_expression", "keypoints_3d",
                                         "contrastive")), terms
    assert terms["keypoints_2d"] == a.breakdown.keypoints_2d and terms["projection"] > 0, terms
    bare = dataclasses.replace(masked, has_segmentation=off, has_person_mask=off,
                               joints2d_conf=torch.zeros_like(full.joints2d_conf))
    result = objective(net(normalize_images(bare.image)), bare, paired_positives=True)
    assert float(result.total.detach()) == 0.0, result.breakdown
    result.total.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() and not g.any() for g in grads)


def test_twenty_steps_on_a_tiny_hand_network_lower_the_loss(model, samples) -> None:
    torch.manual_seed(0)
    net = PartSubnetwork(part_spec("hand"), part_only=True, **TINY_SUBNET_KWARGS)
    objective = build_objective("hand", body_model=model, config=CONFIG)
    batch = collate_samples(samples["hand"])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        result = objective(net(normalize_images(batch.image)), batch, paired_positives=True)
        opt.zero_grad()
        result.total.backward()
        opt.step()
        losses.append(float(result.total.detach()))
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses


def test_clear_errors(model) -> None:
    with pytest.raises(ValueError, match=r"unknown part 'foot': expected one of \['body', 'face', 'hand'\]"):
        build_objective("foot", body_model=model)
    objective = build_objective("face", body_model=model, config=CONFIG)
    net = PartSubnetwork(part_spec("face"), **TINY_SUBNET_KWARGS)  # without the part-only branches
    with torch.no_grad():
        out = net(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"no part-only branches; build it with PartSubnetwork\(..., part_only=True"):
        objective.predict(out, torch.eye(3)[None], 64)
    with pytest.raises(ValueError, match="not a body joint"):
        world_rotation(objective.params(dataclasses.replace(out, global_orient=torch.eye(3)[None],
                                                            betas=torch.zeros(1, 10), camera=torch.ones(1, 3))),
                       22, objective.parents)
