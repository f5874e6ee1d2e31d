"""Unrendered synthetic samples (``data.pose_bank``): the same ground truth as rendering."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.data.pose_bank import sample_pose_bank
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset


def test_bank_entries_equal_the_rendered_samples(model) -> None:
    ds = SyntheticDataset(config=SyntheticConfig(seed=3, image_size=64, use_media_photos=False), model=model)
    indices = [0, 5, 9]
    bank = sample_pose_bank(ds, indices, chunk=2, progress=False)
    assert len(bank) == 3 and bank.image_size == 64
    assert bank.joints2d.shape == (3, ds.joint_index.numel(), 2) and bank.joints3d.shape == (3, ds.joint_index.numel(), 3)
    for k, i in enumerate(indices):
        sample = ds[i]
        assert torch.allclose(bank.joints2d[k], sample.joints2d, atol=1e-3)  # crop pixels
        assert torch.allclose(bank.joints3d[k], sample.joints3d, atol=1e-5)  # metres
        assert torch.equal(bank.global_orient[k], sample.params.global_orient[0])


def test_errors(model) -> None:
    ds = SyntheticDataset(config=SyntheticConfig(seed=3, image_size=64, use_media_photos=False), model=model)
    with pytest.raises(ValueError, match="indices"):
        sample_pose_bank(ds, [], progress=False)
    with pytest.raises(ValueError, match="chunk"):
        sample_pose_bank(ds, [0], chunk=0, progress=False)
