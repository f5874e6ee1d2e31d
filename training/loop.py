"""A time-budgeted training loop for a Body subnetwork on a pool of synthetic samples.

Used by ``benchmarks/learning_check.py`` (the proof that the networks learn on this CPU):
samples are rendered once into an in-memory pool (rendering costs more than a training step
of a small network on 2 cores), then every step draws N anchors from the pool, applies the
paper's augmentations (``data.augment.augment_sample``) and, when the contrastive term is on,
appends each anchor's positive (``positive_pair``: location + colour only) so the batch is the
2N layout of eq. 2; without it the batch is 2N independently augmented samples (same size).
"""

from __future__ import annotations

import copy as copy_module
import dataclasses
import math
import time
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from robosmplx_core.data.augment import AugmentConfig, augment_sample, positive_pair
from robosmplx_core.data.datasets.common import TrainingBatch
from robosmplx_core.data.synthetic import SyntheticBatch, SyntheticDataset, SyntheticSample, collate_samples
from robosmplx_core.nets.subnet import PartSubnetwork, normalize_images
from training.objective import BodyObjective


@dataclass(frozen=True)
class LoopConfig:
    """Optimisation settings.

    pairs_per_step: N; every step sees 2N images.
    lr: Adam learning rate (cosine-decayed to ``lr * final_lr_ratio`` over the budget).
    grad_clip: max gradient norm (0 = off).
    augment: apply ``augment_sample`` to the anchors (else the pool's images as rendered).
    seed: draws of anchors and augmentations.
    """

    pairs_per_step: int = 8
    lr: float = 1e-3
    final_lr_ratio: float = 0.05
    grad_clip: float = 5.0
    augment: bool = True
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pairs_per_step < 1 or self.lr <= 0 or not 0 < self.final_lr_ratio <= 1:
            raise ValueError("LoopConfig: pairs_per_step >= 1, lr > 0 and 0 < final_lr_ratio <= 1 expected")


@dataclass(frozen=True)
class TrainHistory:
    """steps, seconds spent, and the loss of every step (floats)."""

    steps: int
    seconds: float
    losses: tuple[float, ...]


def render_pool(dataset: SyntheticDataset, count: int, *, workers: int = 0, desc: str = "render",
                progress: bool = True) -> list[SyntheticSample]:
    """The first ``count`` samples of ``dataset``, rendered (with a progress bar unless ``progress=False``)."""
    if count < 1:
        raise ValueError(f"render_pool: count must be >= 1, got {count}")
    subset = torch.utils.data.Subset(dataset, range(count))
    loader = DataLoader(subset, batch_size=None, num_workers=workers, collate_fn=lambda s: s)
    # a worker's tensors arrive in shared memory, one file descriptor each: copy them into this
    # process so a pool of thousands does not exhaust the descriptor limit
    copy = copy_module.deepcopy if workers else (lambda s: s)
    return [copy(s) for s in tqdm(loader, total=count, desc=desc, unit="sample", leave=False, disable=not progress)]


def batch_to(batch: TrainingBatch | SyntheticBatch, device: torch.device) -> TrainingBatch | SyntheticBatch:
    """Every tensor of ``batch`` (and its ``params``) on ``device``; the same object on the CPU."""
    if device.type == "cpu":
        return batch
    moved = {f.name: getattr(batch, f.name).to(device, non_blocking=True) for f in dataclasses.fields(batch)
             if isinstance(getattr(batch, f.name), torch.Tensor)}
    return dataclasses.replace(batch, params=batch.params.to(device), **moved)


def _batch(pool: list[SyntheticSample], gen: torch.Generator, cfg: LoopConfig, positives: bool):
    idx = torch.randint(len(pool), (cfg.pairs_per_step if positives else 2 * cfg.pairs_per_step,), generator=gen)
    anchors = [augment_sample(pool[i], gen, cfg.augment_config) if cfg.augment else pool[i] for i in idx.tolist()]
    if positives:
        anchors = anchors + [positive_pair(a, gen, cfg.augment_config) for a in anchors]
    return collate_samples(anchors)


def train_for(net: PartSubnetwork, objective: BodyObjective, pool: list[SyntheticSample], *, seconds: float,
              config: LoopConfig | None = None, progress: bool = True) -> TrainHistory:
    """Train ``net`` in place for ``seconds`` of wall time (whole steps; at least one).

    Batches are drawn and augmented on the CPU and moved to the device of ``net``'s parameters
    (``net`` and ``objective`` must already be there).
    """
    cfg = config or LoopConfig()
    device = next(net.parameters()).device
    gen = torch.Generator().manual_seed(cfg.seed)
    positives = objective.config.weights.contrastive > 0
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    net.train()
    losses: list[float] = []
    start = time.perf_counter()
    bar = tqdm(total=round(seconds), desc="train", unit="s", disable=not progress, leave=False)
    elapsed = 0.0
    while not losses or elapsed < seconds:
        frac = min(elapsed / seconds, 1.0) if seconds > 0 else 1.0
        for group in opt.param_groups:  # cosine decay by wall time
            group["lr"] = cfg.lr * (cfg.final_lr_ratio + (1 - cfg.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))
        batch = batch_to(_batch(pool, gen, cfg, positives), device)
        result = objective(net(normalize_images(batch.image)), batch, paired_positives=positives)
        opt.zero_grad(set_to_none=True)
        result.total.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(float(result.total.detach()))
        now = time.perf_counter() - start
        bar.update(round(now) - round(elapsed))
        bar.set_postfix(loss=f"{losses[-1]:.3f}", steps=len(losses))
        elapsed = now
    bar.close()
    net.eval()
    return TrainHistory(steps=len(losses), seconds=elapsed, losses=tuple(losses))
