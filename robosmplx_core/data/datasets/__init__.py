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
from robosmplx_core.data.datasets.agora import AgoraDataset
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.datasets.ehf import EHFDataset
from robosmplx_core.data.datasets.faces import FaceLandmarkDataset
from robosmplx_core.data.datasets.freihand import FreiHandDataset
from robosmplx_core.data.datasets.human36m import Human36MDataset
from robosmplx_core.data.datasets.interhand import InterHandDataset
from robosmplx_core.data.datasets.lspet import LSPETDataset
from robosmplx_core.data.datasets.mpi_inf_3dhp import MpiInf3dhpDataset
from robosmplx_core.data.datasets.mpii import MPIIDataset
from robosmplx_core.data.datasets.pseudolabel import PseudoLabelDataset
from robosmplx_core.data.datasets.stirling import StirlingDataset, StirlingScan
from robosmplx_core.data.datasets.threedpw import ThreeDPWDataset

__all__ = [
    "BOX_NAMES", "PARAM_FIELDS", "AdapterDataset", "DatasetError", "SampleError", "TrainingBatch", "TrainingSample",
    "collate_training_samples", "from_synthetic", "keypoints_to_spec", "virtual_intrinsics", "CropConfig",
    "CropTransform", "PartLabels", "build_sample", "AgoraDataset", "CocoWholeBodyDataset", "EHFDataset",
    "FaceLandmarkDataset", "FreiHandDataset", "Human36MDataset", "InterHandDataset", "LSPETDataset",
    "MpiInf3dhpDataset", "MPIIDataset", "PseudoLabelDataset", "StirlingDataset", "StirlingScan", "ThreeDPWDataset",
]  # fmt: skip
