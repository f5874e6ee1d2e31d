"""BodyObjective on TrainingBatch: every term weighted by the batch's flags.

A synthetic batch and its ``from_synthetic`` TrainingBatch give bit-identical losses; a term
whose flags are all 0 is exactly 0 (finite gradients); clearing one flag changes only the
terms that read it.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from robosmplx_core.data.augment import AugmentConfig, positive_pair
from robosmplx_core.data.datasets.common import PARAM_FIELDS, collate_training_samples, from_synthetic
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset, collate_samples, crop_camera
from robosmplx_core.geometry.rotations import matrix_to_rot6d
from robosmplx_core.losses import LossWeights
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork, SubnetOutput, normalize_images
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from training.objective import BodyObjective, ObjectiveConfig

TERMS = ("keypoints_3d", "keypoints_2d", "bm_rotations", "bm_betas", "segmentation", "projection", "contrastive",
         "volume")


@pytest.fixture(scope="module")
def anchors_positives(model):
    ds = SyntheticDataset(config=SyntheticConfig(seed=5, image_size=64, use_media_photos=False), model=model)
    anchors = [ds[i] for i in range(3)]
    gen = torch.Generator().manual_seed(0)
    return anchors + [positive_pair(s, gen, AugmentConfig()) for s in anchors]


@pytest.fixture(scope="module")
def objective(model) -> BodyObjective:
    return BodyObjective(body_model=model, config=ObjectiveConfig(render_size=16))


@pytest.fixture(scope="module")
def net() -> PartSubnetwork:
    torch.manual_seed(0)
    return PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS).eval()


def _terms(objective, net, batch) -> dict[str, float]:
    with torch.no_grad():
        result = objective(net(normalize_images(batch.image)), batch, paired_positives=True)
    terms = {k: v for k, v in result.breakdown.as_dict().items() if k in TERMS}
    terms["volume"] = float(result.total.detach()) - result.breakdown.total
    return terms


def test_synthetic_batch_and_its_training_batch_give_identical_losses(objective, net, anchors_positives) -> None:
    synthetic = collate_samples(anchors_positives)
    training = collate_training_samples([from_synthetic(s) for s in anchors_positives])
    with torch.no_grad():
        out = net(normalize_images(synthetic.image))
        a = objective(out, synthetic, paired_positives=True)
        b = objective(out, training, paired_positives=True)
    assert float(a.total) == float(b.total)  # bit-identical, not merely close
    assert a.breakdown == b.breakdown
    assert all(v > 0 for k, v in a.breakdown.as_dict().items() if k in TERMS)


def _cleared(batch, **changes):
    return dataclasses.replace(batch, **changes)


def test_terms_without_any_valid_target_are_exactly_zero(objective, anchors_positives) -> None:
    torch.manual_seed(1)
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS)
    full = collate_training_samples([from_synthetic(s) for s in anchors_positives])
    b = full.image.shape[0]
    off = torch.zeros(b, dtype=torch.bool)
    bare = _cleared(full, has_joints3d=off, joints3d_conf=torch.zeros_like(full.joints3d_conf),
                    joints3d=torch.zeros_like(full.joints3d), has_segmentation=off, has_person_mask=off,
                    params_valid=torch.zeros_like(full.params_valid),
                    joints2d_conf=torch.zeros_like(full.joints2d_conf))
    result = objective(net(normalize_images(bare.image)), bare, paired_positives=True)
    terms = result.breakdown.as_dict()
    assert all(terms[k] == 0.0 for k in TERMS if k != "volume"), terms
    assert float(result.total.detach()) == 0.0
    result.total.backward()  # a graph with zero, finite gradients
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() and not g.any() for g in grads)


def _flag(full, name: str):
    """``full`` with one flag of sample 0 cleared."""
    def param(field: str):
        valid = full.params_valid.clone()
        valid[0, PARAM_FIELDS.index(field)] = False
        return _cleared(full, params_valid=valid)

    def first(tensor, value):
        changed = tensor.clone()
        changed[0] = value
        return changed

    return {
        "betas": lambda: param("betas"),
        "body_pose": lambda: param("body_pose"),
        "joints2d_conf": lambda: _cleared(full, joints2d_conf=first(full.joints2d_conf, 0.0)),
        "has_joints3d": lambda: _cleared(full, has_joints3d=first(full.has_joints3d, False)),
        "has_segmentation": lambda: _cleared(full, has_segmentation=first(full.has_segmentation, False),
                                             has_person_mask=first(full.has_person_mask, False)),
        "segmentation_not_mask": lambda: _cleared(full, has_segmentation=first(full.has_segmentation, False)),
    }[name]()


@pytest.mark.parametrize("flag, changed", [
    ("betas", {"bm_betas"}),
    ("body_pose", {"bm_rotations"}),
    ("joints2d_conf", {"keypoints_2d", "volume"}),
    ("has_joints3d", {"keypoints_3d", "contrastive", "volume"}),
    ("has_segmentation", {"segmentation", "projection"}),
    # a person mask without part labels still drives L_proj (background outside the mask)
    ("segmentation_not_mask", {"segmentation", "projection"}),
])  # fmt: skip
def test_clearing_one_flag_changes_only_the_terms_that_read_it(objective, net, anchors_positives, flag,
                                                               changed) -> None:
    full = collate_training_samples([from_synthetic(s) for s in anchors_positives])
    before, after = _terms(objective, net, full), _terms(objective, net, _flag(full, flag))
    moved = {k for k in TERMS if abs(after[k] - before[k]) > 1e-6 * max(1.0, abs(before[k]))}
    assert moved == changed, (before, after)
    assert all(after[k] == before[k] for k in TERMS if k not in changed and k != "volume")


def test_ground_truth_of_a_pseudolabel_like_batch_gives_near_zero(model, anchors_positives) -> None:
    """2D joints + params + person mask only (no 3D, no part labels): the samples' own
    parameters and crop camera give ~0 for the terms that are on, 0 for the others."""
    anchors = anchors_positives[:3]
    full = collate_training_samples([from_synthetic(s) for s in anchors])
    off = torch.zeros(3, dtype=torch.bool)
    batch = _cleared(full, has_joints3d=off, joints3d_conf=torch.zeros_like(full.joints3d_conf),
                     has_segmentation=off, segmentation=torch.full_like(full.segmentation, 255))
    rot = torch.cat([batch.params.global_orient[:, None], batch.params.body_pose], dim=1)
    out = SubnetOutput(rot6d=matrix_to_rot6d(rot), rotmats=rot, joints=None, segm_logits=None,
                       features=torch.zeros(3, 1), betas=batch.params.betas,
                       camera=crop_camera(collate_samples(anchors)))
    weights = LossWeights(segmentation=0.0, bm_expression=0.0, boxes=0.0)
    objective = BodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, render_size=32))
    terms = objective(out, batch).breakdown.as_dict()
    assert terms["keypoints_3d"] == 0.0 and terms["contrastive"] == 0.0, terms
    assert terms["keypoints_2d"] < 0.02 and terms["bm_rotations"] == 0 and terms["bm_betas"] == 0, terms
    assert 0 < terms["projection"] < 0.08, terms  # mask-only L_proj: soft edges at 32 px
