"""Issue 6: the whole-body stage (training.wholebody): person boxes, L_box targets in the
network's own box convention, the objective at the ground truth, part initialisation from the
part stages, and a tiny run that trains, validates, checkpoints and resumes exactly.

Tiny runs: three TINY subnetworks (64 px crops) on 128 px synthetic images, 2 pairs a step."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import safetensors.torch
import torch

from robosmplx_core.cli import main as cli_main
from robosmplx_core.data.datasets.common import collate_training_samples, from_synthetic
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.nets.checkpoint import load_network, save_checkpoint
from robosmplx_core.nets.config import SubnetConfig
from robosmplx_core.nets.crop import center_size_to_boxes, crop_to_image
from robosmplx_core.nets.keypoints import gaussian_heatmaps
from robosmplx_core.nets.specs import HAND_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork, normalize_images
from robosmplx_core.nets.testing import TINY_NETWORK_CONFIG, TINY_SUBNET_CONFIG, TINY_SUBNET_KWARGS, randomize_heads
from robosmplx_core.nets.wholebody import PART_JOINT_INDICES_137, WholeBodyNetwork
from robosmplx_core.losses import LossWeights
from training.config import PartInits, load_train_config
from training.objective import ObjectiveConfig
from training.trainer import train
from training.wholebody import WholeBodyObjective, load_part_inits, person_boxes

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "training" / "configs" / "synthetic_wholebody.yaml"
TINY = [f"network.{k}={v}" for k, v in TINY_SUBNET_KWARGS.items()] + [
    "data.train.image_size=128", "objective.render_size=32", "data.train.length=8", "data.preload=false",
    "data.val_size=2", "data.mean_init_samples=4", "batch_pairs=2", "num_workers=0", "log_every=1",
    "schedule.warmup_steps=1", "wholebody.box_head_channels=16",
]  # fmt: skip


@pytest.fixture(scope="module")
def batch(model):
    ds = SyntheticDataset(config=SyntheticConfig(seed=3, image_size=128, length=2), model=model)
    return collate_training_samples([from_synthetic(ds[i]) for i in range(2)])


def test_person_boxes_are_the_mask_else_the_labelled_joint_extent(batch) -> None:
    j = batch.joints2d.shape[1]
    xy = torch.zeros(2, j, 2)
    xy[0, 3], xy[0, 7], xy[0, 9] = torch.tensor([10.0, 20.0]), torch.tensor([30.0, 5.0]), torch.tensor([99.0, 99.0])
    visible = torch.zeros(2, j, dtype=torch.bool)
    visible[0, [3, 7, 9]] = True
    visible[1, 5] = True  # one joint only: the whole image
    conf = torch.ones(2, j)
    conf[0, 9] = 0.0  # labelled as missing: ignored even though "visible"
    no_mask = torch.zeros(2, dtype=torch.bool)
    b = dataclasses.replace(batch, joints2d=xy, joints_visible=visible, joints2d_conf=conf, has_person_mask=no_mask)
    assert person_boxes(b).tolist() == [[10.0, 5.0, 30.0, 20.0], [0.0, 0.0, 128.0, 128.0]]
    xy[0, 7] = torch.tensor([12.0, 21.0])  # a 2 x 1 px box is degenerate: the whole image
    assert person_boxes(b)[0].tolist() == [0.0, 0.0, 128.0, 128.0]
    mask = torch.zeros(2, 128, 128, dtype=torch.bool)
    mask[0, 40:90, 20:61] = True  # rows 40..89, columns 20..60: pixels span [20, 61] x [40, 90]
    b = dataclasses.replace(b, person_mask=mask, has_person_mask=torch.tensor([True, True]))
    assert person_boxes(b).tolist() == [[20.0, 40.0, 61.0, 90.0], [0.0, 0.0, 128.0, 128.0]]  # empty mask: joints


def test_box_targets_are_the_enlarged_boxes_in_the_network_convention(model, batch) -> None:
    """The L_box target, read back the way WholeBodyNetwork turns its corrected box into a crop,
    is the ground-truth box enlarged by the part's scale (hand 1.6, face 1.4)."""
    b = dataclasses.replace(batch, left_hand_box_cxcys=torch.tensor([[100.0, 50.0, 20.0]] * 2),
                            face_box_cxcys=torch.tensor([[64.0, 30.0, 10.0]] * 2))
    body_boxes = torch.tensor([[14.0, 4.0, 114.0, 104.0], [0.0, 0.0, 128.0, 128.0]])
    objective = WholeBodyObjective(body_model=model, config=ObjectiveConfig(weights=LossWeights(
        segmentation=0.0, contrastive=0.0)))
    out = SimpleNamespace(body_boxes_xyxy=body_boxes, part_box_center_scale=torch.zeros(2, 3, 3))
    _, gt = objective.box_terms(out, b)
    half = 0.5 * (body_boxes[:, 2] - body_boxes[:, 0])[:, None]
    pixels = center_size_to_boxes(crop_to_image(gt["box_centers"], body_boxes), gt["box_scales"][..., 0] * half)
    assert torch.allclose(pixels[:, 0], torch.tensor([[84.0, 34.0, 116.0, 66.0]] * 2), atol=1e-4)
    assert torch.allclose(pixels[:, 2], torch.tensor([[57.0, 23.0, 71.0, 37.0]] * 2), atol=1e-4)
    assert gt["box_valid"].tolist() == [[1.0, 1.0, 1.0]] * 2


def test_box_targets_match_the_network_boxes(model, batch) -> None:
    """Ground-truth boxes equal to the tight extents of the joints the network boxes: the
    target is exactly what WholeBodyNetwork._part_boxes computes with a zero box head."""
    net = WholeBodyNetwork.from_config(TINY_NETWORK_CONFIG)
    joints = torch.rand(2, 137, 3, generator=torch.Generator().manual_seed(0)) - 0.5
    body_boxes = torch.tensor([[14.0, 4.0, 114.0, 104.0], [-10.0, -10.0, 138.0, 138.0]])
    boxes = net._part_boxes(joints, torch.zeros(2, net.body.backbone.out_channels), body_boxes)
    tight = {}
    for name, idx in PART_JOINT_INDICES_137.items():
        px = crop_to_image(joints[:, idx, :2], body_boxes)  # (2, K, 2) pixels
        lo, hi = px.min(dim=1).values, px.max(dim=1).values
        tight[name] = torch.cat([(lo + hi) / 2, (hi - lo).amax(dim=1, keepdim=True)], dim=1)
    b = dataclasses.replace(batch, left_hand_box_cxcys=tight["left_hand"], right_hand_box_cxcys=tight["right_hand"],
                            face_box_cxcys=tight["face"])
    objective = WholeBodyObjective(body_model=model, config=ObjectiveConfig(weights=LossWeights(
        segmentation=0.0, contrastive=0.0)), part_box_scales=net.part_box_scales)
    pred = boxes["part_box_center_scale"]
    _, gt = objective.box_terms(SimpleNamespace(body_boxes_xyxy=body_boxes, part_box_center_scale=pred), b)
    assert torch.allclose(gt["box_centers"], pred[..., :2], atol=1e-5)
    assert torch.allclose(gt["box_scales"], pred[..., 2:], atol=1e-5)


def test_volume_targets_are_in_the_body_crop(model, batch) -> None:
    objective = WholeBodyObjective(body_model=model, config=ObjectiveConfig(weights=LossWeights(
        segmentation=0.0, contrastive=0.0)))
    body_boxes = torch.tensor([[14.0, 4.0, 114.0, 104.0], [-10.0, -10.0, 138.0, 138.0]])
    xy = objective.volume_xy(SimpleNamespace(body_boxes_xyxy=body_boxes), batch, 128)
    assert torch.allclose(crop_to_image(xy, body_boxes), batch.joints2d, atol=1e-4)
    assert torch.allclose(xy[0, 0], (batch.joints2d[0, 0] - torch.tensor([64.0, 54.0])) / 50.0)


def test_objective_is_zero_at_the_ground_truth(model, batch) -> None:
    weights = LossWeights(segmentation=0.0, contrastive=0.0, projection=0.0)
    objective = WholeBodyObjective(body_model=model, config=ObjectiveConfig(weights=weights))
    out = SimpleNamespace(params=batch.params, body=SimpleNamespace(joints=None),
                          body_boxes_xyxy=torch.tensor([[0.0, 0.0, 128.0, 128.0]] * 2),
                          part_box_center_scale=torch.zeros(2, 3, 3))
    _, gt = objective.box_terms(out, batch)
    out.part_box_center_scale = torch.cat([gt["box_centers"], gt["box_scales"]], dim=-1)
    terms = objective(out, batch).breakdown.as_dict()
    for name in ("keypoints_3d", "keypoints_2d", "bm_rotations", "bm_betas", "bm_expression", "boxes"):
        assert terms[name] < 1e-6, (name, terms)
    out.params = dataclasses.replace(batch.params, jaw_pose=batch.params.body_pose[:, 3])  # another rotation
    assert objective(out, batch).breakdown.bm_rotations > 1e-3


def test_objective_trains_the_body_keypoint_stage_in_its_crop(model, batch) -> None:
    """A body subnetwork with the 2D keypoint stage: the whole-body objective adds its heatmap
    term, with targets in the body crop (not the full image), and trains the keypoint head."""
    torch.manual_seed(0)
    body = SubnetConfig(**{**TINY_SUBNET_KWARGS, "keypoint_joints": 25})
    net = WholeBodyNetwork.from_config(dataclasses.replace(TINY_NETWORK_CONFIG, body=body))
    boxes = torch.tensor([[14.0, 4.0, 114.0, 104.0], [0.0, 0.0, 128.0, 128.0]])
    out = net(normalize_images(batch.image), boxes, batch.K)
    weights = LossWeights(segmentation=0.0, contrastive=0.0, projection=0.0)
    on = WholeBodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, heatmap_keypoints=2.0))
    off = WholeBodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, heatmap_keypoints=0.0))
    result = on(out, batch)
    xy = on.volume_xy(out, batch, 128)
    expected = 2.0 * float(on.heatmap_loss(out.body.heatmaps.detach(), batch, xy=xy))
    assert result.extra["heatmap_keypoints"] == pytest.approx(expected, rel=1e-5) and expected > 0
    assert float((result.total - off(out, batch).total).detach()) == pytest.approx(expected, rel=1e-3)
    # heatmaps at the body-crop targets cost nothing; read in full-image coordinates they would
    size = out.body.heatmaps.shape[-1]
    at_target = gaussian_heatmaps(xy[:, :25].detach(), size, on.config.heatmap_sigma)
    exact = dataclasses.replace(out, body=dataclasses.replace(out.body, heatmaps=at_target))
    assert on(exact, batch).extra["heatmap_keypoints"] == pytest.approx(0.0, abs=1e-6)
    assert float(on.heatmap_loss(at_target, batch)) > 1.0  # the image-crop default targets differ
    result.total.backward()
    grads = [p.grad for p in net.body.keypoint_head.parameters()]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)


def test_objective_trains_the_body_facing_branch(model, batch) -> None:
    """A body subnetwork with the facing branch: the whole-body objective adds its term on the
    body's facing logits."""
    torch.manual_seed(0)
    body = SubnetConfig(**{**TINY_SUBNET_KWARGS, "keypoint_joints": 25, "facing_head": True})
    net = WholeBodyNetwork.from_config(dataclasses.replace(TINY_NETWORK_CONFIG, body=body))
    boxes = torch.tensor([[14.0, 4.0, 114.0, 104.0], [0.0, 0.0, 128.0, 128.0]])
    out = net(normalize_images(batch.image), boxes, batch.K)
    assert out.body.facing.shape == (2,)
    weights = LossWeights(segmentation=0.0, contrastive=0.0, projection=0.0)
    objective = WholeBodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, facing=3.0))
    result = objective(out, batch)
    expected = 3.0 * float(objective.facing_loss(out.body.facing.detach(), batch))
    assert result.extra["facing"] == pytest.approx(expected, rel=1e-5) and expected > 0
    result.total.backward()
    assert float(net.body.facing_head.layers[-1].weight.grad.abs().max()) > 0


def test_part_inits_load_the_part_stage_weights(tmp_path) -> None:
    hand = randomize_heads(PartSubnetwork.from_config(HAND_SPEC, TINY_SUBNET_CONFIG, part_only=True))
    save_checkpoint(tmp_path / "hand", network=hand, config=TINY_SUBNET_CONFIG)
    net = WholeBodyNetwork.from_config(TINY_NETWORK_CONFIG)
    notes = load_part_inits(net, PartInits(hand=str(tmp_path / "hand")))
    assert notes == [f"hand subnetwork from {tmp_path / 'hand'} (part-only branches dropped)"]
    mine, theirs = net.hand.state_dict(), hand.state_dict()
    rows = mine["regressor_out.bias"].shape[0]
    assert rows < theirs["regressor_out.bias"].shape[0]  # the part-only rows are gone
    assert torch.equal(mine["regressor_out.weight"], theirs["regressor_out.weight"][:rows])
    assert all(torch.equal(v, theirs[k]) for k, v in mine.items() if not k.startswith("regressor_out"))
    with pytest.raises(ValueError, match=r"init_parts.face=.*holds a 'subnet:hand' network, not the face subnetwork"):
        load_part_inits(net, PartInits(face=str(tmp_path / "hand")))
    wide_config = SubnetConfig(**{**TINY_SUBNET_KWARGS, "hidden_channels": 48})
    wide = PartSubnetwork.from_config(HAND_SPEC, wide_config, part_only=True)
    save_checkpoint(tmp_path / "wide", network=wide, config=wide_config)
    with pytest.raises(ValueError, match=r"different hand subnetwork architecture"):
        load_part_inits(net, PartInits(hand=str(tmp_path / "wide")))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(str(folder / "weights.safetensors"))


def test_wholebody_stage_trains_validates_and_resumes(tmp_path) -> None:
    """Through `robosmplx train`: the hand subnetwork starts from a part-stage checkpoint, every
    whole-body term is on, validation gives the whole-body metrics; then 2 steps + resume + 2
    steps = 4 steps in one go."""
    hand = randomize_heads(PartSubnetwork.from_config(HAND_SPEC, TINY_SUBNET_CONFIG, part_only=True))
    save_checkpoint(tmp_path / "hand", network=hand, config=TINY_SUBNET_CONFIG)
    init = f"wholebody.init_parts.hand={tmp_path / 'hand'}"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli_main(["train", str(CONFIG), *TINY, "steps=4", "val_every=2", f"out_dir={tmp_path / 'full'}", init,
                         "--quiet"])
    assert code == 0 and f"init: hand subnetwork from {tmp_path / 'hand'} (part-only branches dropped)" \
        in printed.getvalue(), printed.getvalue()
    ckpt = tmp_path / "full" / "checkpoints" / "step_000004"
    assert json.loads((ckpt / "meta.json").read_text())["kind"] == "wholebody"
    assert isinstance(load_network(ckpt), WholeBodyNetwork)
    lines = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    losses = [x["loss"] for x in lines if x["split"] == "train"]
    for x in (x for x in lines if x["split"] == "train"):
        assert all(x[k] > 0 for k in ("boxes", "bm_expression", "keypoints_3d", "keypoints_2d", "projection",
                                      "volume_keypoints")), x
    val = [x for x in lines if x["split"] == "val"]
    assert [x["step"] for x in val] == [2, 4]
    for x in val:
        assert 0 < x["pa_mpjpe_all_mm"] < x["mpjpe_all_mm"] == x["mpjpe_mm"] < 2000, x
        assert 0 < x["mpjpe_hands_mm"] < 1000 and 0 < x["mpjpe_face_mm"] < 1000 and 0 <= x["part_box_iou"] <= 1, x
    step2 = tmp_path / "full" / "checkpoints" / "step_000002"
    resumed = train(load_train_config(CONFIG, [*TINY, "steps=4", "val_every=2", f"out_dir={tmp_path / 'resumed'}",
                                               init, f"resume={step2}"]), progress=False)
    torch.testing.assert_close(torch.tensor(resumed.losses), torch.tensor(losses[2:]), rtol=1e-5, atol=1e-6)
    a, b = _weights(ckpt), _weights(resumed.last_checkpoint)
    names = [k for k in a if not k.startswith("extra_state.rng")]
    assert names and all(torch.allclose(a[k], b[k], atol=1e-6) for k in names)


def test_wholebody_config_errors_say_how_to_fix() -> None:
    with pytest.raises(ValueError, match=r"data.train.image_size \(32\) is the full image and must be at least the "
                                         r"body crop \(network.input_size = 64\)"):
        load_train_config(CONFIG, [*TINY, "data.train.image_size=32"])
    with pytest.raises(ValueError, match=r"objective.weights.segmentation and .contrastive must be 0"):
        load_train_config(CONFIG, [*TINY, "objective.weights.contrastive=1"])
    with pytest.raises(ValueError, match=r"render_size \(16\) must be the part-map side, training image side / 4 = 32"):
        load_train_config(CONFIG, [*TINY, "objective.render_size=16"])
    with pytest.raises(ValueError, match=r"wholebody.\* settings apply to stage wholebody only"):
        load_train_config(ROOT / "training" / "configs" / "synthetic_body.yaml", ["wholebody.init_parts.hand=x"])
    cfg = load_train_config(CONFIG)
    assert cfg.network_config.hand.input_size == 64 and cfg.network_config.body.input_size == 128
