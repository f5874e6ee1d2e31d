"""Synthetic samples: determinism, consistent ground truth, collate, bad config (speed: benchmarks/synthetic_speed.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data import (
    PoseSamplingConfig, SyntheticConfig, SyntheticDataset, collate_samples, crop_camera,
    resize_segmentation, sample_smplx_params,
)
from robosmplx_core.geometry.projection import perspective_projection
from robosmplx_core.nets.specs import part_spec, spec_joint_indices_144

SIZE = 128


@pytest.fixture(scope="module")
def datasets(model: BodyModel) -> dict[str, SyntheticDataset]:
    return {part: SyntheticDataset(config=SyntheticConfig(seed=3, image_size=SIZE, part=part, length=50), model=model)
            for part in ("body", "hand", "face")}


@pytest.mark.parametrize("part", ["body", "hand", "face"])
def test_sample_fields(datasets: dict[str, SyntheticDataset], part: str) -> None:
    s = datasets[part][0]
    spec = part_spec(part)
    assert s.image.shape == (3, SIZE, SIZE) and s.image.dtype == torch.float32
    assert 0.0 <= float(s.image.min()) and float(s.image.max()) <= 1.0
    assert s.joints3d.shape == (spec.num_joints, 3) and s.joints2d.shape == (spec.num_joints, 2)
    assert s.segmentation.shape == (SIZE, SIZE) and s.segmentation.dtype == torch.int64
    assert 0 <= int(s.segmentation.min()) and int(s.segmentation.max()) <= spec.num_parts
    assert int(s.segmentation.max()) > 0
    assert bool(s.person_mask[s.segmentation > 0].all())
    assert s.params.batch_size == 1 and s.K.shape == (3, 3) and s.pelvis3d.shape == (3,)
    assert (s.joints3d[:, 2] > 0).all()
    for box in (s.left_hand_box_cxcys, s.right_hand_box_cxcys, s.face_box_cxcys):
        assert box.shape == (3,) and float(box[2]) > 0
    assert torch.allclose(perspective_projection(s.joints3d[None], s.K)[0], s.joints2d, atol=1e-3)


def test_params_reproduce_joints3d(datasets: dict[str, SyntheticDataset], model: BodyModel) -> None:
    for part in ("body", "face"):
        s = datasets[part][1]
        with torch.no_grad():
            joints = model(s.params).joints[0, spec_joint_indices_144(part_spec(part))]
        assert torch.allclose(joints, s.joints3d, atol=1e-4)
        assert torch.allclose(model(s.params).joints[0, 0], s.pelvis3d, atol=1e-4)


def test_joints_land_inside_silhouette(datasets: dict[str, SyntheticDataset]) -> None:
    for i in range(4):
        s = datasets["body"][i]
        skeleton = s.joints2d[:14][s.joints_visible[:14]]  # pelvis .. wrists lie inside the limbs
        rows, cols = skeleton[:, 1].long(), skeleton[:, 0].long()
        inside = s.person_mask[rows, cols].float().mean()
        assert inside >= 0.9, f"sample {i}: only {float(inside):.2f} of the joints on the silhouette"
    hand = datasets["hand"][0]
    assert hand.joints_visible.float().mean() > 0.9  # the crop is around the right hand


def test_deterministic_per_seed_and_index(datasets: dict[str, SyntheticDataset], model: BodyModel) -> None:
    ds = datasets["body"]
    a, b = ds[4], SyntheticDataset(config=ds.config, model=model)[4]
    assert torch.equal(a.image, b.image) and torch.equal(a.joints2d, b.joints2d)
    assert torch.equal(a.segmentation, b.segmentation)
    other_seed = SyntheticDataset(config=dataclasses.replace(ds.config, seed=4), model=model)[4]
    assert not torch.equal(a.joints3d, other_seed.joints3d)
    assert not torch.equal(a.joints3d, ds[5].joints3d)


def test_collate_and_camera(datasets: dict[str, SyntheticDataset]) -> None:
    ds = datasets["body"]
    batch = collate_samples([ds[0], ds[1]])
    assert batch.image.shape == (2, 3, SIZE, SIZE) and batch.params.batch_size == 2
    assert batch.index.tolist() == [0, 1] and batch.part == "body"
    cam = crop_camera(batch)
    assert cam.shape == (2, 3) and (cam[:, 0] > 0).all()
    assert torch.allclose(crop_camera(ds[0]), cam[0])
    assert resize_segmentation(batch.segmentation, 64).shape == (2, 64, 64)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate_samples)
    assert next(iter(loader)).image.shape == (2, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match="mix parts"):
        collate_samples([ds[0], datasets["face"][0]])


def test_resize_segmentation_known_values() -> None:
    seg = torch.arange(16).view(4, 4)
    assert resize_segmentation(seg, 2).tolist() == [[5, 7], [13, 15]]


def test_procedural_backgrounds_only(model: BodyModel) -> None:
    cfg = SyntheticConfig(seed=0, image_size=64, use_media_photos=False, background_kinds=("gradient",))
    s = SyntheticDataset(config=cfg, model=model)[0]
    assert s.image.shape == (3, 64, 64)


def test_rest_pose_sampling_is_identity() -> None:
    gen = torch.Generator().manual_seed(0)
    p = sample_smplx_params(gen, PoseSamplingConfig(pose_scale=0.0, finger_curl=0.0))
    assert torch.allclose(p.body_pose, torch.eye(3).expand(1, 21, 3, 3), atol=1e-6)


def test_bad_config_raises(model: BodyModel) -> None:
    with pytest.raises(ValueError, match="part"):
        SyntheticConfig(part="torso")
    with pytest.raises(ValueError, match="background_kinds"):
        SyntheticConfig(background_kinds=("clouds",))
    with pytest.raises(ValueError, match="low <= high"):
        PoseSamplingConfig(yaw_deg=(10.0, -10.0))
    with pytest.raises(ValueError, match="use_face_contour"):
        SyntheticDataset(config=SyntheticConfig(), model=BodyModel.load())
    with pytest.raises(IndexError):
        SyntheticDataset(config=SyntheticConfig(length=2), model=model)[2]


def test_relaxed_pose_distribution_stays_within_limits_and_concentrates_near_its_centre():
    from robosmplx_core.data.sampling import _body_ranges, _relaxed_centres
    from robosmplx_core.geometry.rotations import matrix_to_axis_angle

    def draw(dist: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(3)
        cfg = PoseSamplingConfig(pose_distribution=dist)
        return torch.stack([matrix_to_axis_angle(sample_smplx_params(gen, cfg).body_pose[0].double())
                            for _ in range(200)]) * (180.0 / torch.pi)  # (200, 21, 3) degrees

    lims = torch.tensor(_body_ranges(), dtype=torch.float64)
    centre = torch.tensor(_relaxed_centres(), dtype=torch.float64).clamp(lims[..., 0], lims[..., 1])
    relaxed, uniform = draw("relaxed"), draw("uniform")
    knee = 3  # left knee: a single-axis joint, so axis-angle x is the drawn angle
    assert relaxed[:, knee, 0].min() >= -1e-3 and relaxed[:, knee, 0].max() <= 110.0 + 1e-3
    spread_relaxed = (relaxed - centre).abs().mean()
    spread_uniform = (uniform - centre).abs().mean()
    assert spread_relaxed < 0.7 * spread_uniform  # measured 0.62 (uniform would give ~1)
    assert torch.equal(draw("relaxed"), relaxed)  # deterministic from the seed
    with pytest.raises(ValueError, match="pose_distribution"):
        PoseSamplingConfig(pose_distribution="mocap")
