"""Training the 2D keypoint stage: the heatmap term of the body objective, the two-stage loop
(keypoint stage first, then frozen) and the held-out keypoint error, on real synthetic samples."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset, collate_samples
from robosmplx_core.losses import LossWeights
from robosmplx_core.nets.keypoints import gaussian_heatmaps
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork, normalize_images
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from training.evaluate import keypoint_errors_px, left_right_swaps
from training.loop import LoopConfig, train_for
from training.objective import BodyObjective, ObjectiveConfig

N = 25


@pytest.fixture(scope="module")
def samples(model):
    ds = SyntheticDataset(config=SyntheticConfig(seed=5, image_size=64, use_media_photos=False), model=model)
    return [ds[i] for i in range(4)]


def test_heatmap_term_is_zero_at_the_targets_and_follows_the_2d_weights(model, samples) -> None:
    objective = BodyObjective(body_model=model, config=ObjectiveConfig(heatmap_sigma=1.5))
    batch = collate_samples(samples)
    target = gaussian_heatmaps(2.0 * batch.joints2d[:, :N] / 64 - 1.0, 16, 1.5)
    assert objective.heatmap_loss(target, batch) == pytest.approx(0.0, abs=1e-7)
    # all-zero heatmaps: each visible keypoint costs the sum of its squared target
    zero = objective.heatmap_loss(torch.zeros_like(target), batch)
    vis = batch.joints_visible[:, :N].float()
    expected = ((target**2).sum(dim=(2, 3)) * vis).sum() / vis.sum()
    assert float(zero) == pytest.approx(float(expected), rel=1e-5) and zero > 1.0
    # a keypoint outside the crop (weight 0) costs nothing, whatever its heatmap
    hidden = dataclasses.replace(batch, joints_visible=torch.zeros_like(batch.joints_visible))
    assert objective.heatmap_loss(torch.randn_like(target), hidden) == 0.0


def test_objective_adds_the_heatmap_term_for_a_network_with_the_stage(model, samples) -> None:
    torch.manual_seed(0)
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=N).eval()
    batch = collate_samples(samples)
    with torch.no_grad():
        out = net(normalize_images(batch.image))
    weights = LossWeights(bm_expression=0.0, boxes=0.0, projection=0.0, contrastive=0.0)
    on = BodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, heatmap_keypoints=2.0))
    off = BodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, heatmap_keypoints=0.0))
    result = on(out, batch)
    diff = float(result.total - off(out, batch).total)
    assert diff == pytest.approx(2.0 * float(on.heatmap_loss(out.heatmaps, batch)), rel=1e-4) and diff > 0
    assert result.extra["heatmap_keypoints"] == pytest.approx(diff, rel=1e-4)  # logged, weighted
    assert "heatmap_keypoints" not in off(out, batch).extra


def test_two_stage_loop_trains_the_keypoint_stage_then_freezes_it(model, samples) -> None:
    torch.manual_seed(0)
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=N)
    weights = LossWeights(bm_expression=0.0, boxes=0.0, projection=0.0)
    objective = BodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, render_size=16))
    head_before = net.keypoint_head.layers[-1].weight.detach().clone()
    out_before = net.regressor_out.weight.detach().clone()
    history = train_for(net, objective, samples, seconds=3.0, progress=False,
                        config=LoopConfig(pairs_per_step=2, keypoint_stage=0.5, augment=False))
    assert 1 <= history.keypoint_steps < history.steps == len(history.losses)
    assert not (net.keypoint_head.layers[-1].weight - head_before).abs().max() == 0  # stage 1 trained it
    assert (net.regressor_out.weight - out_before).abs().max() > 0  # stage 2 trained the regressor
    assert not any(p.requires_grad for p in net.backbone.parameters())
    assert not any(p.requires_grad for p in net.keypoint_head.parameters())
    assert all(p.requires_grad for p in net.regressor_out.parameters())


def test_keypoint_error_in_crop_pixels(samples) -> None:
    """Heatmaps with no positive value decode to the crop centre, (32, 32) px of a 64 px crop:
    the error is then each visible joint's distance to it."""
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=N).eval()
    with torch.no_grad():
        net.keypoint_head.layers[-1].weight.zero_()
        net.keypoint_head.layers[-1].bias.fill_(-1.0)
    batch = collate_samples(samples)
    dist = (batch.joints2d[:, :N] - 32.0).norm(dim=-1)[batch.joints_visible[:, :N]].double()
    errors = keypoint_errors_px(net, samples, batch_size=3)
    # both sides at the same point: never closer to the swapped truth
    assert errors == pytest.approx({"median_px": float(dist.median()), "mean_px": float(dist.mean()),
                                    "left_right_swapped": 0.0}, rel=1e-5)


def test_left_right_swaps_known_values() -> None:
    names = ("pelvis", "left_knee", "right_knee", "left_ear", "right_ear", "nose")
    gt = torch.tensor([[[0.0, 0], [-10, 50], [10, 50], [-3, -40], [3, -40], [0, -38]]]).repeat(2, 1, 1)
    pred = gt.clone()
    pred[0, [1, 2]] = gt[0, [2, 1]]  # sample 0: knees swapped, ears right
    pred[1, 1] = gt[1, 2]  # sample 1: both knees on the right knee: a tie, not a swap
    visible = torch.ones(2, 6, dtype=torch.bool)
    visible[1, 4] = False  # sample 1: one ear outside the crop, that pair is not counted
    flags = left_right_swaps(pred, gt, visible, names)
    assert flags.tolist() == [True, False, False]  # (0 knees, 0 ears, 1 knees)
    assert left_right_swaps(pred, gt, visible, ("pelvis", "neck")).numel() == 0


def test_loop_and_evaluation_errors(model, samples) -> None:
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS)
    objective = BodyObjective(body_model=model)
    with pytest.raises(ValueError, match="keypoint_joints"):
        train_for(net, objective, samples, seconds=1.0, progress=False, config=LoopConfig(keypoint_stage=0.5))
    with pytest.raises(ValueError, match="keypoint_stage"):
        LoopConfig(keypoint_stage=1.0)
    with pytest.raises(ValueError, match="no 2D keypoint stage"):
        keypoint_errors_px(net, samples)
