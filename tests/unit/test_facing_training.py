"""Training the facing branch (``nets.facing``): the objective's facing term, the two-stage
loop (first stage on ground-truth-placed patches, second through the objective) and the
held-out facing score, on real synthetic samples."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset, collate_samples
from robosmplx_core.losses import LossWeights
from robosmplx_core.nets.facing import facing_targets
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork, normalize_images
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from training.evaluate import keypoint_errors_px
from training.loop import LoopConfig, train_for
from training.objective import PELVIS, BodyObjective, ObjectiveConfig
from training.targets import batch_weights

WEIGHTS = LossWeights(bm_expression=0.0, boxes=0.0, projection=0.0, contrastive=0.0)


def _net() -> PartSubnetwork:
    return PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=25, facing_head=True)


@pytest.fixture(scope="module")
def samples(model):
    ds = SyntheticDataset(config=SyntheticConfig(seed=7, image_size=64, use_media_photos=False), model=model)
    return [ds[i] for i in range(6)]


def test_facing_term_known_values_and_weights(model, samples) -> None:
    objective = BodyObjective(body_model=model)
    batch = collate_samples(samples)
    target = facing_targets(batch.params.global_orient)
    assert 0 < float(target.sum()) < len(samples)  # the seed draws both facings
    assert float(objective.facing_loss(torch.zeros(len(samples)), batch)) == pytest.approx(math.log(2.0), rel=1e-6)
    confident = 20.0 * (2.0 * target - 1.0)
    assert float(objective.facing_loss(confident, batch)) < 1e-8
    assert float(objective.facing_loss(-confident, batch)) == pytest.approx(20.0, rel=1e-6)
    # samples whose global orientation is not valid are weighted out
    bw = batch_weights(batch, root=PELVIS)
    assert bw.rotations is None  # synthetic: every flag set
    invalid = dataclasses.replace(bw, rotations=torch.zeros(len(samples), 22))
    assert float(objective.facing_loss(-confident, batch, bw=invalid)) == 0.0


def test_objective_adds_the_facing_term_and_it_trains_the_branch(model, samples) -> None:
    torch.manual_seed(0)
    net = _net().eval()
    batch = collate_samples(samples)
    out = net(normalize_images(batch.image))
    on = BodyObjective(body_model=model, config=ObjectiveConfig(weights=WEIGHTS, facing=2.0))
    off = BodyObjective(body_model=model, config=ObjectiveConfig(weights=WEIGHTS, facing=0.0))
    result = on(out, batch)
    diff = float(result.total.detach() - off(out, batch).total.detach())
    assert diff == pytest.approx(2.0 * float(on.facing_loss(out.facing, batch).detach()), rel=1e-4) and diff > 0
    assert result.extra["facing"] == pytest.approx(diff, rel=1e-4)
    assert "facing" not in off(out, batch).extra
    result.total.backward()
    assert float(net.facing_head.layers[-1].weight.grad.abs().max()) > 0


def test_loop_trains_the_facing_branch_in_both_stages(model, samples) -> None:
    """keypoint_stage 0.99: (almost) only the first stage, on ground-truth-placed patches;
    keypoint_stage 0: only the full objective, on the network's own keypoints."""
    objective = BodyObjective(body_model=model, config=ObjectiveConfig(weights=WEIGHTS, render_size=16))
    for fraction in (0.99, 0.0):
        torch.manual_seed(0)
        net = _net()
        before = net.facing_head.layers[-1].weight.detach().clone()
        cfg = LoopConfig(pairs_per_step=2, keypoint_stage=fraction, augment=False, facing_samples=4)
        history = train_for(net, objective, samples, seconds=2.0, progress=False, config=cfg)
        assert (history.keypoint_steps >= 1) == (fraction > 0)
        assert float((net.facing_head.layers[-1].weight.detach() - before).abs().max()) > 0, fraction
        assert all(p.requires_grad for p in net.facing_head.parameters())  # never frozen


def test_facing_score_in_the_keypoint_evaluation(samples) -> None:
    """A branch whose last layer outputs a constant +1 is right exactly for the samples facing
    the camera."""
    net = _net().eval()
    with torch.no_grad():
        net.facing_head.layers[-1].weight.zero_()
        net.facing_head.layers[-1].bias.fill_(1.0)
    batch = collate_samples(samples)
    orient = batch.params.global_orient
    towards_away = orient[:, 2, 2].abs() > 0.5
    target = facing_targets(orient)
    scores = keypoint_errors_px(net, samples, batch_size=4)
    assert scores["facing_right"] == pytest.approx(float(target.mean()))
    expected = float(target[towards_away].mean()) if towards_away.any() else float("nan")
    assert scores["facing_right_towards_away"] == pytest.approx(expected, nan_ok=True)
    assert "facing_right" not in keypoint_errors_px(PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS,
                                                                   keypoint_joints=25), samples)


def test_loop_config_errors() -> None:
    with pytest.raises(ValueError, match="facing_samples"):
        LoopConfig(facing_samples=-1)
    with pytest.raises(ValueError, match="facing"):
        ObjectiveConfig(facing=-0.5)
