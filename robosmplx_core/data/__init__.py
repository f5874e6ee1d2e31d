"""Training data: SMPL-X parameter sampling, synthetic rendered samples and augmentations."""

from robosmplx_core.data.sampling import (
    CameraSample, CameraSamplingConfig, PoseSamplingConfig, sample_camera, sample_smplx_params,
)
from robosmplx_core.data.synthetic import (
    SyntheticBatch, SyntheticConfig, SyntheticDataset, SyntheticSample, collate_samples, crop_camera,
    resize_segmentation,
)

__all__ = [
    "CameraSample", "CameraSamplingConfig", "PoseSamplingConfig", "sample_camera", "sample_smplx_params",
    "SyntheticBatch", "SyntheticConfig", "SyntheticDataset", "SyntheticSample", "collate_samples",
    "crop_camera", "resize_segmentation",
]  # fmt: skip
