"""``data.source`` -> the training set: the synthetic renderer or a dataset adapter.

Every builder takes the run's :class:`~training.config.DataConfig` and the body model and
returns a map-style dataset. Its items are :class:`SyntheticSample` (``synthetic``) or
:class:`~robosmplx_core.data.datasets.common.TrainingSample` (the adapters of
``robosmplx_core.data.datasets``: body sets, FreiHAND / InterHand2.6M hands, FFHQ / AffectNet /
BUPT faces (``FaceLandmarkDataset`` with that layout), COCO-WholeBody crops of any part; read
from ``data.path`` and cropped to
``data.train.image_size`` around their boxes extended by ``data.crop_scale``); the batch code
(``training.data``) turns both into one :class:`TrainingBatch`. An adapter counts the entries
it drops in ``dataset.skipped`` (``Counter`` by reason); :func:`skipped_counts` reads it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from torch.utils.data import Dataset

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data import datasets as adapters
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.synthetic import SyntheticDataset
from training.config import DATA_SOURCES, SOURCE_PARTS, DataConfig

__all__ = ["DatasetBuilder", "DATASETS", "MixedDataset", "build_training_set", "skipped_counts"]

DatasetBuilder = Callable[[DataConfig, BodyModel], Dataset]


def _synthetic(cfg: DataConfig, model: BodyModel) -> Dataset:
    return SyntheticDataset(config=cfg.train, model=model)


def _crop(cfg: DataConfig) -> CropConfig:
    return CropConfig(size=cfg.train.image_size, scale=cfg.crop_scale)


def _root(cfg: DataConfig) -> Path:
    if not cfg.path:  # DataConfig checks this too; kept for builders called directly
        raise ValueError(f"data.path: data.source={cfg.source} reads a dataset folder; set data.path=FOLDER")
    return Path(cfg.path)


def _pseudolabel(cfg: DataConfig, model: BodyModel) -> Dataset:
    return adapters.PseudoLabelDataset(_root(cfg), part=cfg.train.part, crop=_crop(cfg),
                                       min_body_confidence=cfg.min_body_confidence,
                                       max_reprojection_px=cfg.max_reprojection_px)


def _adapter(cls: type, *, with_part: bool = False, **kwargs: str) -> DatasetBuilder:
    """An adapter with its default split and settings (plus ``kwargs``), cropped like the
    others; ``with_part``: it serves several parts and takes ``part=data.train.part``."""

    def build(cfg: DataConfig, model: BodyModel) -> Dataset:
        part = {"part": cfg.train.part} if with_part else {}
        return cls(_root(cfg), crop=_crop(cfg), **part, **kwargs)

    build.__name__ = f"build_{cls.__name__}"
    return build


DATASETS: dict[str, DatasetBuilder] = {
    "synthetic": _synthetic,
    "pseudolabel": _pseudolabel,
    "human36m": _adapter(adapters.Human36MDataset),
    "coco_wholebody": _adapter(adapters.CocoWholeBodyDataset, with_part=True),
    "mpii": _adapter(adapters.MPIIDataset),
    "lspet": _adapter(adapters.LSPETDataset),
    "mpi_inf_3dhp": _adapter(adapters.MpiInf3dhpDataset),
    "3dpw": _adapter(adapters.ThreeDPWDataset),
    "agora": _adapter(adapters.AgoraDataset),
    "freihand": _adapter(adapters.FreiHandDataset),
    "interhand": _adapter(adapters.InterHandDataset),
    "ffhq": _adapter(adapters.FaceLandmarkDataset, layout="ffhq"),
    "affectnet": _adapter(adapters.FaceLandmarkDataset, layout="affectnet"),
    "bupt": _adapter(adapters.FaceLandmarkDataset, layout="bupt"),
}
"""``data.source`` -> builder of the training set (items: SyntheticSample or TrainingSample)."""
if tuple(DATASETS) != DATA_SOURCES or set(SOURCE_PARTS) != set(DATA_SOURCES):
    raise RuntimeError(f"training.sources.DATASETS {tuple(DATASETS)}, training.config.DATA_SOURCES {DATA_SOURCES} "
                       f"and training.config.SOURCE_PARTS {tuple(SOURCE_PARTS)} must list the same names")


def skipped_counts(dataset: object) -> dict[str, int]:
    """``{reason: count}`` of the entries ``dataset`` dropped so far (empty when it counts none)."""
    counts = getattr(dataset, "skipped", None)
    return dict(counts) if isinstance(counts, Counter) else {}


class MixedDataset(Dataset):
    """Several training sets drawn with weights (``data.mix``; the paper's data mixes).

    Item ``i`` takes its member from a generator seeded by ``(seed, i)`` with probabilities
    ``weights / sum(weights)``, then a uniformly drawn index of that member: a pure function of
    ``(seed, i)``, so batches stay deterministic and resumable. ``len`` is the members' total.
    ``skipped`` sums the members' counts.
    """

    def __init__(self, members: Sequence[Dataset], weights: Sequence[float], *, seed: int = 0) -> None:
        if not members or len(members) != len(weights) or min(weights) <= 0:
            raise ValueError(f"MixedDataset: expected one positive weight per member, got {len(members)} members "
                             f"and weights {list(weights)}")
        empty = [i for i, m in enumerate(members) if len(m) == 0]
        if empty:
            raise ValueError(f"MixedDataset: members {empty} have no samples; check their dataset folders")
        self.members = list(members)
        self.probabilities = np.asarray(weights, dtype=np.float64) / float(sum(weights))
        self.seed = int(seed)

    def __len__(self) -> int:
        return sum(len(m) for m in self.members)

    def locate(self, index: int) -> tuple[int, int]:
        """(member, index in that member) of item ``index``."""
        rng = np.random.default_rng([self.seed, int(index)])
        member = int(rng.choice(len(self.members), p=self.probabilities))
        return member, int(rng.integers(len(self.members[member])))

    def __getitem__(self, index: int):
        member, inner = self.locate(index)
        return self.members[member][inner]

    @property
    def skipped(self) -> Counter:
        total: Counter = Counter()
        for member in self.members:
            total.update(skipped_counts(member))
        return total


def build_training_set(cfg: DataConfig, model: BodyModel) -> Dataset:
    """The training set of ``cfg``: ``DATASETS[cfg.source]``, or a :class:`MixedDataset` of
    ``cfg.mix`` (each member built with the other data settings of ``cfg``)."""
    if not cfg.mix:
        return DATASETS[cfg.source](cfg, model)
    members = [DATASETS[m.source](dataclasses.replace(cfg, source=m.source, path=m.path, mix=[]), model)
               for m in cfg.mix]
    return MixedDataset(members, [m.weight for m in cfg.mix], seed=cfg.train.seed)
