"""The keypoint lifter (``nets.lifter``): shapes, what it reads, how the body subnetwork adds it,
and its first-stage training on ground-truth keypoints (``training.loop``)."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.data.pose_bank import sample_pose_bank
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset, collate_samples
from robosmplx_core.nets.config import SubnetConfig
from robosmplx_core.nets.lifter import KeypointLifter
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from training.loop import LoopConfig, _lifter_loss, train_for
from training.objective import BodyObjective, ObjectiveConfig


def _net(**overrides) -> PartSubnetwork:
    torch.manual_seed(0)
    kwargs = dict(TINY_SUBNET_KWARGS, keypoint_joints=25, facing_head=True, lifter=True)
    return PartSubnetwork(BODY_SPEC, **dict(kwargs, **overrides))


@pytest.mark.parametrize("batch", [0, 1, 4])
def test_shapes_and_zero_start(batch: int) -> None:
    lifter = KeypointLifter(num_keypoints=25, out_features=145, with_facing=True)
    out = lifter(torch.rand(batch, 25, 2) - 0.5, torch.rand(batch))
    assert out.shape == (batch, 145) and (batch == 0 or float(out.detach().abs().max()) == 0.0)


def test_pose_inputs_do_not_depend_on_placement_and_scale() -> None:
    """Without its mean/spread inputs (first-layer columns zeroed) the output is the same for
    the keypoints moved and scaled in the crop."""
    torch.manual_seed(0)
    lifter = KeypointLifter(num_keypoints=5, out_features=7, with_facing=False, hidden=16)
    torch.nn.init.normal_(lifter.out.weight)
    with torch.no_grad():
        lifter.layers[0].weight[:, 10:13] = 0.0  # mean x, mean y, spread
    kp = torch.rand(3, 5, 2) - 0.5
    assert torch.allclose(lifter(kp), lifter(0.4 * kp + torch.tensor([0.2, -0.1])), atol=1e-5)


def test_errors() -> None:
    lifter = KeypointLifter(num_keypoints=5, out_features=7, with_facing=True, hidden=8)
    with pytest.raises(ValueError, match="facing_prob must be given"):
        lifter(torch.zeros(1, 5, 2))
    with pytest.raises(ValueError, match="keypoints"):
        lifter(torch.zeros(1, 4, 2), torch.zeros(1))
    with pytest.raises(ValueError, match="facing_head"):
        PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=25, lifter=True)
    with pytest.raises(ValueError, match="facing_head"):
        SubnetConfig(keypoint_joints=25, lifter=True)


def test_subnetwork_adds_the_lifter_to_the_regressor() -> None:
    net = _net().eval()
    images = torch.randn(2, 3, 64, 64)
    before = net(images)
    shift = torch.zeros(net.regressor_out.out_features)
    shift[-3:] = torch.tensor([0.5, 0.1, -0.2])  # the camera group (s, tx, ty) is last for the body
    with torch.no_grad():
        net.lifter.out.bias.copy_(shift)
    after = net(images)
    assert torch.allclose(after.camera - before.camera, shift[-3:].expand(2, 3), atol=1e-6)
    assert torch.equal(after.rot6d, before.rot6d)


@pytest.fixture(scope="module")
def samples(model):
    ds = SyntheticDataset(config=SyntheticConfig(seed=11, image_size=64, use_media_photos=False), model=model)
    return [ds[i] for i in range(6)]


def test_first_stage_lifter_loss_trains(model, samples) -> None:
    """30 Adam steps on the lifter alone lower its loss on the same ground truth."""
    net = _net()
    objective = BodyObjective(body_model=model)
    batch = collate_samples(samples)
    xy, orient = 2.0 * batch.joints2d / 64 - 1.0, batch.params.global_orient
    opt = torch.optim.Adam(net.lifter.parameters(), lr=1e-3)
    cfg, losses = LoopConfig(lifter_noise_px=0.0), []
    for step in range(30):
        gen = torch.Generator().manual_seed(step)
        loss = _lifter_loss(net, objective, xy, orient, batch.joints3d, gen, cfg, torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[0] > 0.02 and losses[-1] < 0.7 * losses[0], losses
    # the rotation term adds the weighted L1 of the global orientation (the same draws)
    gen_a, gen_b = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    plain = _lifter_loss(net, objective, xy, orient, batch.joints3d, gen_a, cfg, torch.device("cpu"))
    with_rot = _lifter_loss(net, objective, xy, orient, batch.joints3d, gen_b,
                            LoopConfig(lifter_noise_px=0.0, lifter_rotation=2.0), torch.device("cpu"))
    assert float((with_rot - plain).detach()) > 0
    with pytest.raises(ValueError, match="lifter_rotation"):
        LoopConfig(lifter_rotation=-1.0)


@pytest.mark.parametrize("with_bank", [False, True])
def test_loop_trains_the_lifter_in_the_first_stage(model, samples, with_bank: bool) -> None:
    """On the crops' own ground truth, or on a pose bank (whose entries are other samples)."""
    net = _net()
    objective = BodyObjective(body_model=model, config=ObjectiveConfig(render_size=16))
    ds = SyntheticDataset(config=SyntheticConfig(seed=11, image_size=64, use_media_photos=False), model=model)
    bank = sample_pose_bank(ds, range(6, 30), progress=False) if with_bank else None
    history = train_for(net, objective, samples, seconds=2.0, progress=False, pose_bank=bank,
                        config=LoopConfig(pairs_per_step=2, keypoint_stage=0.99, augment=False, facing_samples=4,
                                          lifter_samples=8))
    assert history.keypoint_steps >= 1
    assert float(net.lifter.out.weight.detach().abs().max()) > 0
    with pytest.raises(ValueError, match="lifter_samples"):
        LoopConfig(lifter_samples=0)


def test_lifter_trains_without_the_facing_term(model, samples) -> None:
    """``ObjectiveConfig.facing=0``: the first stage still trains the lifter, not the branch."""
    net = _net()
    before = net.facing_head.layers[-1].weight.detach().clone()
    objective = BodyObjective(body_model=model, config=ObjectiveConfig(render_size=16, facing=0.0))
    train_for(net, objective, samples, seconds=1.5, progress=False,
              config=LoopConfig(pairs_per_step=2, keypoint_stage=0.99, augment=False, facing_samples=2))
    assert float(net.lifter.out.weight.detach().abs().max()) > 0
    assert torch.equal(net.facing_head.layers[-1].weight.detach(), before)
