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

``DATASETS`` (``training.sources``) is the seam where datasets plug in: name -> builder of a
map-style dataset of :class:`~robosmplx_core.data.synthetic.SyntheticSample` (the renderer) or
:class:`~robosmplx_core.data.datasets.common.TrainingSample` (every adapter). One batch path
serves both: a synthetic sample is augmented by ``data.augment`` (flips included) and converted
with ``from_synthetic``; an adapter's sample by ``training.sample_augment``; every micro-batch
is a :class:`TrainingBatch` whose flags say which labels each sample has.

Bad entries never stop a run: an adapter replaces an unreadable entry by the next readable one
and counts it in ``dataset.skipped``; a sample with a non-finite value where a label is flagged
present is replaced here by the next dataset index (counted as ``non_finite``). Each
micro-batch carries the counts added while it was built (:class:`MicroBatch`), so the trainer
can report them whatever process built it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.augment import AugmentConfig, augment_sample, positive_pair
from robosmplx_core.data.datasets.common import TrainingBatch, TrainingSample, collate_training_samples
from robosmplx_core.data.datasets.common import from_synthetic
from robosmplx_core.data.synthetic import SyntheticDataset, SyntheticSample
from training.config import DataConfig, TrainConfig
from training.loop import batch_to, render_pool  # noqa: F401  (batch_to: re-exported)
from training.sample_augment import augment_training_sample, training_positive_pair
from training.sources import DATASETS, DatasetBuilder, build_training_set, skipped_counts

__all__ = ["DATASETS", "DatasetBuilder", "BatchPlan", "MicroBatch", "StepBatches", "train_loader", "steps_per_epoch",
           "total_steps", "validation_samples", "batch_to", "first_bad_label"]
MAX_REPLACEMENTS = 16
"""Consecutive dataset indices tried in place of a sample with non-finite labels."""


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


@dataclass(frozen=True)
class MicroBatch:
    """One micro-batch and the entries skipped while building it (``{reason: count}``)."""

    batch: TrainingBatch
    skipped: dict[str, int] = field(default_factory=dict)


def first_bad_label(sample: TrainingSample) -> Optional[str]:
    """Name of the first tensor of ``sample`` with a NaN / inf where its label is flagged
    present (the losses reject non-finite targets), or None."""
    checks = (("image", sample.image, True), ("K", sample.K, True), ("joints2d", sample.joints2d, True),
              ("joints2d_conf", sample.joints2d_conf, True), ("joints3d", sample.joints3d, sample.has_joints3d),
              ("joints3d_conf", sample.joints3d_conf, True), ("pelvis3d", sample.pelvis3d, sample.has_pelvis3d))
    for name, value, used in checks:
        if used and not bool(torch.isfinite(value).all()):
            return name
    for f in dataclasses.fields(sample.params):
        value = getattr(sample.params, f.name)
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return f"params.{f.name}"
    return None


class StepBatches(Dataset):
    """Item ``i`` = micro-batch ``i % accumulate`` of step ``i // accumulate`` for this process
    (a :class:`MicroBatch` of a collated :class:`TrainingBatch`)."""

    def __init__(self, source: Sequence[SyntheticSample | TrainingSample] | Dataset, plan: BatchPlan, *,
                 augment: Optional[AugmentConfig], positive_config: AugmentConfig) -> None:
        self.source, self.plan = source, plan
        self.augment, self.positive_config = augment, positive_config
        self.length = len(source)  # type: ignore[arg-type]
        if self.length < 1:
            raise ValueError("the training set is empty: check data.path (an adapter drops what it cannot read; "
                             "see its skipped counts) or data.train.length")
        self._perm: tuple[int, torch.Tensor] | None = None

    def index(self, position: int) -> int:
        """Dataset index of the ``position``-th sample drawn since the start of the run."""
        epoch, offset = divmod(position, self.length)
        if self._perm is None or self._perm[0] != epoch:
            gen = torch.Generator().manual_seed(_seed(self.plan.seed, epoch))
            self._perm = (epoch, torch.randperm(self.length, generator=gen))
        return int(self._perm[1][offset])

    def _load(self, index: int, skipped: Counter) -> SyntheticSample | TrainingSample:
        """``source[index]``, or the next index whose labels are finite (counted)."""
        for attempt in range(min(self.length, MAX_REPLACEMENTS)):
            sample = self.source[(index + attempt) % self.length]
            if isinstance(sample, SyntheticSample) or first_bad_label(sample) is None:
                return sample
            skipped["non_finite"] += 1
        raise ValueError(f"training set: {MAX_REPLACEMENTS} consecutive samples from index {index} have non-finite "
                         "labels; regenerate or re-extract the dataset")

    def _pair(self, sample: SyntheticSample | TrainingSample,
              gen: torch.Generator) -> tuple[TrainingSample, Optional[TrainingSample]]:
        """The augmented anchor and (when the contrastive term is on) its positive."""
        if isinstance(sample, SyntheticSample):
            anchor = augment_sample(sample, gen, self.augment) if self.augment is not None else sample
            positive = positive_pair(anchor, gen, self.positive_config) if self.plan.positives else None
            return from_synthetic(anchor), None if positive is None else from_synthetic(positive)
        real = augment_training_sample(sample, gen, self.augment) if self.augment is not None else sample
        return real, training_positive_pair(real, gen, self.positive_config) if self.plan.positives else None

    def __getitem__(self, item: int) -> MicroBatch:
        step, micro = divmod(int(item), self.plan.accumulate)
        before = Counter(skipped_counts(self.source))
        skipped: Counter[str] = Counter()
        anchors, positives = [], []
        for slot in self.plan.slots(micro):
            sample = self._load(self.index(step * self.plan.samples_per_step + slot), skipped)
            gen = torch.Generator().manual_seed(_seed(self.plan.seed, step, slot))
            anchor, positive = self._pair(sample, gen)
            anchors.append(anchor)
            if positive is not None:
                positives.append(positive)
        skipped.update(Counter(skipped_counts(self.source)) - before)
        return MicroBatch(batch=collate_training_samples(anchors + positives), skipped=dict(skipped))


def _identity(item: object) -> object:
    return item


def train_loader(cfg: TrainConfig, model: BodyModel, *, rank: int, world_size: int, start_step: int,
                 total_steps: int, progress: bool = True, source: Optional[Dataset] = None) -> DataLoader:
    """The :class:`MicroBatch` items of this process from ``start_step`` to ``total_steps`` (``accumulate``
    per step); ``source``: the training set already built (else ``build_training_set(data)``)."""
    if source is None:
        source = build_training_set(cfg.data, model)
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


def steps_per_epoch(cfg: TrainConfig, length: Optional[int] = None) -> int:
    """Optimizer steps of one pass over the training set (at least 1): ``length`` samples, by
    default ``data.train.length`` (the synthetic set's size)."""
    return max(1, (cfg.data.train.length if length is None else length) // cfg.samples_per_step)


def total_steps(cfg: TrainConfig, length: Optional[int] = None) -> int:
    """``steps``, or ``epochs`` x :func:`steps_per_epoch` (``length`` as there)."""
    if cfg.steps is not None:
        return int(cfg.steps)
    return int(cfg.epochs) * steps_per_epoch(cfg, length)  # type: ignore[arg-type]


def validation_samples(cfg: DataConfig, model: BodyModel, *, workers: int = 0,
                       progress: bool = True) -> list[SyntheticSample]:
    """The held-out synthetic set (``val_size`` samples of seed ``val_seed``), rendered once."""
    if not cfg.val_size:
        return []
    val = dataclasses.replace(cfg.train, seed=cfg.val_seed, length=cfg.val_size)
    return render_pool(SyntheticDataset(config=val, model=model), cfg.val_size, workers=workers, desc="render val",
                       progress=progress)
