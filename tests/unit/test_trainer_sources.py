"""The trainer's data path on TrainingSample: adapters' samples batched with their flags, bad
entries skipped and counted, augmentation moving labels consistently, config errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.augment import AugmentConfig
from robosmplx_core.data.datasets.common import AdapterDataset, SampleError, TrainingBatch, from_synthetic
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.geometry.projection import perspective_projection
from training.config import DATA_SOURCES, load_train_config
from training.data import BatchPlan, StepBatches, first_bad_label
from training.sample_augment import augment_training_sample, training_positive_pair
from training.sources import DATASETS


@pytest.fixture(scope="module")
def rendered():
    model = BodyModel.load(use_face_contour=True)
    ds = SyntheticDataset(config=SyntheticConfig(seed=7, image_size=64, use_media_photos=False), model=model)
    return [from_synthetic(ds[i], source="fake") for i in range(4)]


class FakeAdapter(AdapterDataset):
    """4 entries: entry 1 unreadable (SampleError), entry 2 with a NaN 2D joint; 2D labels only."""

    name = "fake"

    def __init__(self, samples) -> None:
        super().__init__(part="body")
        self.samples = samples
        self.entries = list(range(len(samples)))
        self.skip("tiny_box")  # dropped while indexing

    def load(self, entry, index):
        if entry == 1:
            raise SampleError("unreadable_image", f"entry {entry}")
        s = self.samples[entry]
        joints2d = s.joints2d.clone()
        if entry == 2:
            joints2d[5] = float("nan")
        return dataclasses.replace(s, joints2d=joints2d, has_joints3d=False,
                                   joints3d_conf=torch.zeros_like(s.joints3d_conf), has_segmentation=False)


def test_batches_keep_flags_and_count_skipped_entries(rendered) -> None:
    source = FakeAdapter(rendered)
    plan = BatchPlan(samples_per_step=4, positives=True, world_size=1, rank=0, accumulate=1, seed=0)
    batches = StepBatches(source, plan, augment=AugmentConfig(), positive_config=AugmentConfig())
    micro = batches[0]
    batch = micro.batch
    assert isinstance(batch, TrainingBatch) and batch.image.shape == (8, 3, 64, 64)
    assert not batch.has_joints3d.any() and not batch.has_segmentation.any() and batch.has_person_mask.all()
    assert torch.isfinite(batch.joints2d).all() and set(batch.index.tolist()) <= {0, 3}
    # the 4 draws hit entries 0..3 once each: entry 1 is unreadable (the adapter returns entry 2,
    # non-finite: here indices 2 then 3 are tried, 3 is kept), entry 2 is non-finite (-> 3)
    assert micro.skipped == {"unreadable_image": 1, "non_finite": 3}, micro.skipped
    assert source.skipped["tiny_box"] == 1  # counted at indexing, reported by the trainer at start
    assert first_bad_label(source[2]) == "joints2d" and first_bad_label(source[0]) is None


def test_augmentation_moves_labels_with_the_image(rendered) -> None:
    sample = rendered[0]
    cfg = AugmentConfig(rotation_prob=1.0, background_prob=1.0)
    out = augment_training_sample(sample, torch.Generator().manual_seed(3), cfg)
    assert out.image.shape == sample.image.shape and not torch.equal(out.image, sample.image)
    for flag in ("has_joints3d", "has_segmentation", "has_person_mask", "has_intrinsics"):
        assert getattr(out, flag) == getattr(sample, flag)
    torch.testing.assert_close(out.params_valid, sample.params_valid)
    # the moved 3D joints seen through the moved K land on the moved 2D joints
    uv = perspective_projection(out.joints3d[None], out.K[None])[0]
    torch.testing.assert_close(uv, out.joints2d, atol=1e-3, rtol=0)
    assert not torch.allclose(out.joints2d, sample.joints2d)
    pos = training_positive_pair(out, torch.Generator().manual_seed(4), cfg)
    torch.testing.assert_close(pos.joints3d, out.joints3d)  # location + colour only: same 3D pose
    uv = perspective_projection(pos.joints3d[None], pos.K[None])[0]
    torch.testing.assert_close(uv, pos.joints2d, atol=1e-3, rtol=0)


def test_data_source_config_errors_say_how_to_fix(tmp_path) -> None:
    assert tuple(DATASETS) == DATA_SOURCES and "pseudolabel" in DATA_SOURCES
    config = "training/configs/pseudolabel_body.yaml"
    with pytest.raises(ValueError, match=r"data.path: data.source=pseudolabel reads a dataset folder; set data.path"):
        load_train_config(config)
    with pytest.raises(ValueError, match=r"data.source: expected one of \('synthetic', 'pseudolabel', 'human36m'"):
        load_train_config(config, ["data.source=kinetics", f"data.path={tmp_path}"])
    with pytest.raises(ValueError, match=r"at most one of init .* and resume"):
        load_train_config(config, [f"data.path={tmp_path}", "init=a", "resume=b"])
    cfg = load_train_config(config, [f"data.path={tmp_path}"])
    with pytest.raises(ValueError, match="pseudo-label dataset root.*not found|Expected layout"):
        DATASETS[cfg.data.source](cfg.data, None)  # an empty folder: the adapter names the layout
