"""Real-dataset adapters: each reads a dataset's published format and returns
:class:`TrainingSample` crops (the record the trainer reads from any source, synthetic included).

Nothing here downloads data; every module names where to obtain its dataset and the folder
layout it expects, and raises :class:`DatasetError` naming that layout when it is missing.
"""

from robosmplx_core.data.datasets.coco_wholebody import CocoWholeBodyDataset
from robosmplx_core.data.datasets.common import (
    BOX_NAMES, PARAM_FIELDS, AdapterDataset, DatasetError, SampleError, TrainingBatch, TrainingSample,
    collate_training_samples, from_synthetic, keypoints_to_spec, virtual_intrinsics,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.datasets.ehf import EHFDataset
from robosmplx_core.data.datasets.freihand import FreiHandDataset
from robosmplx_core.data.datasets.human36m import Human36MDataset

__all__ = [
    "BOX_NAMES", "PARAM_FIELDS", "AdapterDataset", "DatasetError", "SampleError", "TrainingBatch", "TrainingSample",
    "collate_training_samples", "from_synthetic", "keypoints_to_spec", "virtual_intrinsics", "CropConfig",
    "CropTransform", "PartLabels", "build_sample", "CocoWholeBodyDataset", "EHFDataset", "FreiHandDataset",
    "Human36MDataset",
]  # fmt: skip
