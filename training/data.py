"""Training batches: deterministic, resumable, and the same whatever the number of processes.

Optimizer step ``s`` draws ``samples_per_step`` dataset samples (global slots ``0..n-1``): slot
``k`` is sample ``perm_e[p mod L]`` where ``p = s * n + k`` counts samples drawn since the
start, ``L`` the dataset length and ``perm_e`` a permutation of epoch ``e = p // L`` seeded by
``(seed, e)``. Slot ``k`` is augmented with a generator seeded by ``(seed, s, k)`` (then its
contrastive positive with the same generator). Process ``r`` of ``W`` takes slots
``[r n/W, (r+1) n/W)``, split into ``accumulate`` micro-batches; a micro-batch is its anchors
followed by their positives (when the contrastive term is on). So the union of what all
processes see at step ``s`` depends on ``(seed, s)`` only, and a resumed run continues with
exactly the batches it would have seen.

``DATASETS`` is the seam where datasets plug in: name -> builder of a map-style dataset of
:class:`~robosmplx_core.data.synthetic.SyntheticSample` (the synthetic set today; the
adapters of ``robosmplx_core.data.datasets`` later).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.augment import AugmentConfig, augment_sample, positive_pair
from robosmplx_core.data.synthetic import SyntheticBatch, SyntheticDataset, SyntheticSample, collate_samples
from training.config import DATA_SOURCES, DataConfig, TrainConfig
from training.loop import render_pool

DatasetBuilder = Callable[[DataConfig, BodyModel], Dataset]


def _synthetic(cfg: DataConfig, model: BodyModel) -> Dataset:
    return SyntheticDataset(config=cfg.train, model=model)


DATASETS: dict[str, DatasetBuilder] = {"synthetic": _synthetic}
"""``data.source`` -> builder of the training set (items: ``SyntheticSample``)."""
if tuple(DATASETS) != DATA_SOURCES:
    raise RuntimeError(f"training.data.DATASETS {tuple(DATASETS)} and training.config.DATA_SOURCES "
                       f"{DATA_SOURCES} must list the same names")


def _seed(*parts: int) -> int:
    words = [int(p) & 0xFFFFFFFF for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0]) >> 1


@dataclass(frozen=True)
class BatchPlan:
    """Which global slots of each step this process takes (module docstring)."""

    samples_per_step: int
    positives: bool
    world_size: int
    rank: int
    accumulate: int
    seed: int

    def __post_init__(self) -> None:
        if self.samples_per_step % (self.world_size * self.accumulate):
            raise ValueError(f"batch_pairs: {self.samples_per_step} samples per step cannot be split over "
                             f"{self.world_size} processes x accumulate={self.accumulate}; make batch_pairs a "
                             "multiple of processes x accumulate")

    @property
    def per_micro(self) -> int:
        """Dataset samples (anchors) in one micro-batch of this process."""
        return self.samples_per_step // (self.world_size * self.accumulate)

    def slots(self, micro: int) -> range:
        """Global slots of micro-batch ``micro`` (0..accumulate-1) of this process."""
        start = (self.rank * self.accumulate + micro) * self.per_micro
        return range(start, start + self.per_micro)


class StepBatches(Dataset):
    """Item ``i`` = micro-batch ``i % accumulate`` of step ``i // accumulate`` for this process
    (a collated :class:`SyntheticBatch`)."""

    def __init__(self, source: Sequence[SyntheticSample] | Dataset, plan: BatchPlan, *,
                 augment: Optional[AugmentConfig], positive_config: AugmentConfig) -> None:
        self.source, self.plan = source, plan
        self.augment, self.positive_config = augment, positive_config
        self.length = len(source)  # type: ignore[arg-type]
        self._perm: tuple[int, torch.Tensor] | None = None

    def index(self, position: int) -> int:
        """Dataset index of the ``position``-th sample drawn since the start of the run."""
        epoch, offset = divmod(position, self.length)
        if self._perm is None or self._perm[0] != epoch:
            gen = torch.Generator().manual_seed(_seed(self.plan.seed, epoch))
            self._perm = (epoch, torch.randperm(self.length, generator=gen))
        return int(self._perm[1][offset])

    def __getitem__(self, item: int) -> SyntheticBatch:
        step, micro = divmod(int(item), self.plan.accumulate)
        anchors, positives = [], []
        for slot in self.plan.slots(micro):
            sample = self.source[self.index(step * self.plan.samples_per_step + slot)]
            gen = torch.Generator().manual_seed(_seed(self.plan.seed, step, slot))
            anchor = augment_sample(sample, gen, self.augment) if self.augment is not None else sample
            anchors.append(anchor)
            if self.plan.positives:
                positives.append(positive_pair(anchor, gen, self.positive_config))
        return collate_samples(anchors + positives)


def _identity(item: object) -> object:
    return item


def train_loader(cfg: TrainConfig, model: BodyModel, *, rank: int, world_size: int, start_step: int,
                 total_steps: int, progress: bool = True) -> DataLoader:
    """Micro-batches of this process from ``start_step`` to ``total_steps`` (``accumulate`` per step)."""
    source: Sequence[SyntheticSample] | Dataset = DATASETS[cfg.data.source](cfg.data, model)
    if cfg.data.preload:
        count = len(source)  # type: ignore[arg-type]
        source = render_pool(source, count, workers=cfg.num_workers, desc="render train",  # type: ignore[arg-type]
                             progress=progress)
    plan = BatchPlan(samples_per_step=cfg.samples_per_step, positives=cfg.positives, world_size=world_size,
                     rank=rank, accumulate=cfg.accumulate, seed=cfg.seed)
    batches = StepBatches(source, plan, augment=cfg.data.augmentation if cfg.data.augment else None,
                          positive_config=cfg.data.augmentation)
    order = range(start_step * cfg.accumulate, total_steps * cfg.accumulate)
    return DataLoader(batches, batch_size=None, sampler=order, num_workers=cfg.num_workers, collate_fn=_identity,
                      pin_memory=torch.cuda.is_available())


def steps_per_epoch(cfg: TrainConfig) -> int:
    """Optimizer steps of one pass over ``data.train.length`` samples (at least 1)."""
    return max(1, cfg.data.train.length // cfg.samples_per_step)


def total_steps(cfg: TrainConfig) -> int:
    """``steps``, or ``epochs`` x :func:`steps_per_epoch`."""
    return int(cfg.steps) if cfg.steps is not None else int(cfg.epochs) * steps_per_epoch(cfg)  # type: ignore[arg-type]


def validation_samples(cfg: DataConfig, model: BodyModel, *, workers: int = 0,
                       progress: bool = True) -> list[SyntheticSample]:
    """The held-out synthetic set (``val_size`` samples of seed ``val_seed``), rendered once."""
    if not cfg.val_size:
        return []
    val = dataclasses.replace(cfg.train, seed=cfg.val_seed, length=cfg.val_size)
    return render_pool(SyntheticDataset(config=val, model=model), cfg.val_size, workers=workers, desc="render val",
                       progress=progress)


def batch_to(batch: SyntheticBatch, device: torch.device) -> SyntheticBatch:
    """Every tensor of ``batch`` on ``device``."""
    if device.type == "cpu":
        return batch
    moved = {f.name: getattr(batch, f.name).to(device, non_blocking=True) for f in dataclasses.fields(batch)
             if isinstance(getattr(batch, f.name), torch.Tensor)}
    return dataclasses.replace(batch, params=batch.params.to(device), **moved)
