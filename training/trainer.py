"""The trainer of the Body, Hand and Face subnetworks and of the whole-body network (paper sec.
4.1): one process or ``torchrun`` DDP.

``stage`` picks the network and its objective: a part subnetwork (``nets.specs``; objective
``training.part_objective.build_objective``: :class:`BodyObjective`, or :class:`PartObjective`
for a hand / face network built with ``part_only=True``: the part-only orientation, betas and
camera branches) or, for "wholebody", the assembled network on full images
(``training.wholebody``: its objective with L_box, ``wholebody.init_parts`` from the part
stages); and its validation (``training.validation``).

    result = train(load_train_config("training/configs/synthetic_body.yaml", ["steps=100"]))

Every optimizer step: each process runs its ``accumulate`` micro-batches (``training.data``),
the network under float16 autocast on CUDA when ``amp`` (the objective in float32), the
gradients averaged over processes by DistributedDataParallel (so W processes with N/W pairs
each equal one process with N pairs in ``accumulate = W`` micro-batches, and, with synchronised
BatchNorm, one process with N pairs), clipped to ``grad_clip``, Adam, then the LR schedule.
Every ``val_every`` steps and at the end, rank 0 validates (MPJPE, PA-MPJPE, PVE in mm) and writes ``out_dir/checkpoints/step_XXXXXX`` (``training.state``); the
lowest validation MPJPE so far is mirrored to ``checkpoints/best``.

The training set is any ``data.source`` (``training.sources``); entries its adapter could not
read, and samples with non-finite labels, are skipped and counted: the counts go to the log
(``train/skipped_entries`` with every train log line, a note at each epoch end and at the end
of the run) and to :attr:`TrainResult.skipped`. ``init`` starts from another run's weights
(fine-tuning, e.g. synthetic -> pseudo-labels) with a fresh optimizer.

Run folder: ``train.yaml`` (the resolved config), ``checkpoints/``, ``metrics.jsonl``,
``tensorboard/`` (when tensorboard is installed).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from robosmplx_core.body_model import BodyModel
from robosmplx_core.config import save_config
from robosmplx_core.data.datasets.common import PARAM_FIELDS, TrainingBatch, TrainingSample
from robosmplx_core.data.synthetic import SyntheticSample
from robosmplx_core.nets.checkpoint import load_checkpoint
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.nets.subnet import PartSubnetwork
from training.config import TrainConfig
from training.data import MicroBatch, batch_to, total_steps, train_loader, validation_samples
from training.sources import build_training_set, skipped_counts
from training.distributed import DistEnv, barrier, init_distributed, mean_over_processes, shutdown
from training.evaluate import mean_pose
from training.logs import RunLog
from training.loop import as_float
from training.part_objective import build_objective, part_mean_rotations
from training.schedule import build_scheduler
from training.state import TrainState, capture_rng, link_or_copy_tree, load_train_checkpoint, restore_rng
from training.state import save_train_checkpoint
from training.validation import Validator, network_outputs, samples_to
from training.wholebody import build_wholebody_network, load_part_inits, objective_for

CHECKPOINTS = "checkpoints"
BEST = "best"


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` did.

    steps: optimizer steps done in total (including those before a resume).
    losses: the loss of every step run by this call (mean over processes), in order.
    last_checkpoint, best_checkpoint: folders written (rank 0; None elsewhere or if none).
    best: ``{"mpjpe_mm", "step"}`` of the best validation, or None.
    validations: every validation of this call, ``{"step", "mpjpe_mm", "pa_mpjpe_mm", "pve_mm"}``.
    skipped: training-set entries skipped, ``{reason: count}``: those the adapter dropped when
        indexing plus those replaced while this process (rank 0 in multi-process runs) built
        its batches.
    """

    steps: int
    losses: tuple[float, ...]
    last_checkpoint: Optional[Path]
    best_checkpoint: Optional[Path]
    best: Optional[dict]
    validations: tuple[dict, ...]
    skipped: dict[str, int] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """torch, numpy and Python ``random`` seeded from ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _tensors(out) -> list[torch.Tensor]:
    """Every tensor of a (nested dataclass) network output."""
    if isinstance(out, torch.Tensor):
        return [out]
    if dataclasses.is_dataclass(out):
        return [t for f in dataclasses.fields(out) for t in _tensors(getattr(out, f.name))]
    return []


class Trainer:
    """Builds everything from a :class:`TrainConfig` on a :class:`DistEnv`; :meth:`fit` runs."""

    def __init__(self, cfg: TrainConfig, env: DistEnv, *, progress: bool = True) -> None:
        self.cfg, self.env, self.progress = cfg, env, progress
        self.out_dir = Path(cfg.out_dir)
        if not cfg.resume and any((self.out_dir / CHECKPOINTS).glob("step_[0-9]*")):
            raise ValueError(f"out_dir={self.out_dir} already holds a run ({CHECKPOINTS}/step_*): continue it with "
                             f"resume={self.out_dir / CHECKPOINTS}/step_XXXXXX, or pick another out_dir")
        seed_everything(cfg.seed)
        self.model = BodyModel.from_config(dataclasses.replace(cfg.body_model, device="cpu"))  # renders samples
        self.net = (build_wholebody_network(cfg) if cfg.stage == "wholebody" else
                    PartSubnetwork.from_config(part_spec(cfg.stage), cfg.network, part_only=cfg.stage != "body"))
        self.source = build_training_set(cfg.data, self.model)
        self.total = total_steps(cfg, len(self.source))  # type: ignore[arg-type]
        self.init_notes: list[str] = []
        if cfg.init:
            self._load_init(cfg.init)
        elif cfg.data.mean_init_samples and not cfg.resume and not cfg.wholebody.init_parts.body:
            self._start_at_mean(cfg.data.mean_init_samples)  # resume loads the weights instead
        if cfg.stage == "wholebody" and not cfg.resume:
            self.init_notes += load_part_inits(self.net, cfg.wholebody.init_parts)
        self.skipped: Counter[str] = Counter(skipped_counts(self.source))  # dropped while indexing
        self.net = self.net.to(env.device)
        loss_model = self.model if env.device.type == "cpu" else copy.deepcopy(self.model)
        self.objective = (objective_for(cfg, loss_model) if cfg.stage == "wholebody" else
                          build_objective(cfg.stage, body_model=loss_model, config=cfg.objective)).to(env.device)
        self.validator = Validator(cfg.stage, self.objective)
        self.use_amp = cfg.amp and env.device.type == "cuda"
        o = cfg.optimizer
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=o.lr, betas=tuple(o.betas),
                                          weight_decay=o.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, self.total, cfg.schedule)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.step, self.best = 0, None
        if cfg.resume:
            self._resume(cfg.resume)
        self.model_ddp = self._wrap()

    def _start_at_mean(self, count: int) -> None:
        """HMR's mean-parameter initialisation from the first ``count`` training samples (the
        whole-body stage: of its body subnetwork)."""
        if self.cfg.stage not in ("body", "wholebody"):  # the part's own rotations (fingers / jaw) where labelled
            rotations = part_mean_rotations([self.source[i] for i in range(min(count, len(self.source)))],
                                            self.cfg.stage)
            if rotations is not None:
                self.net.set_mean(rotmats=rotations)
            return
        needed = [PARAM_FIELDS.index(n) for n in ("global_orient", "body_pose", "betas")]
        samples = [self.source[i] for i in range(min(count, len(self.source)))]
        samples = [s for s in samples if not isinstance(s, TrainingSample) or bool(s.params_valid[needed].all())]
        if samples:  # else (no sample with body parameters) the rest pose, upright
            start = mean_pose(samples)
            body = self.net.body if self.cfg.stage == "wholebody" else self.net
            body.set_mean(rotmats=start.rotations, betas=start.betas)

    def _load_init(self, folder: str) -> None:
        """Fine-tuning: the weights of the checkpoint ``folder`` (same architecture)."""
        network = load_checkpoint(folder).network
        mine, theirs = self.net.state_dict(), network.state_dict()
        shapes = {k: tuple(v.shape) for k, v in mine.items()}
        if type(network) is not type(self.net) or shapes != {k: tuple(v.shape) for k, v in theirs.items()}:
            if self.cfg.stage == "wholebody":
                hint = ("a part stage's checkpoint goes to wholebody.init_parts.body/hand/face; a whole-body one must "
                        "match network.* (its body) and wholebody.* (copy them from its network.yaml)")
            else:
                hint = "fine-tune from a checkpoint of the same architecture (copy its network.yaml settings into network.*)"
            raise ValueError(f"init={folder}: its network ({type(network).__name__}) is not the {self.cfg.stage} "
                             f"network of this config's stage and network sections; {hint}, or drop init")
        self.net.load_state_dict(theirs)

    def _resume(self, folder: str) -> None:
        weights, state = load_train_checkpoint(folder, config=self.cfg)
        self.net.load_state_dict(weights)
        self.optimizer.load_state_dict(state.optimizer)
        self.scheduler.load_state_dict(state.scheduler)
        if state.scaler:
            self.scaler.load_state_dict(state.scaler)
        restore_rng(state.rng)
        self.step, self.best = state.step, state.best

    def _wrap(self) -> torch.nn.Module:
        if not self.env.distributed:
            return self.net
        net: torch.nn.Module = self.net
        if self.cfg.sync_batchnorm and self.env.device.type == "cuda":
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        return DistributedDataParallel(net, device_ids=[self.env.device.index] if self.env.device.type == "cuda"
                                       else None)

    def _micro_loss(self, batch: TrainingBatch) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.use_amp):
            out = as_float(network_outputs(self.model_ddp, self.cfg.stage, batch))
        with torch.autocast("cuda", enabled=False):
            result = self.objective(out, batch, paired_positives=self.cfg.positives)
        terms = {k: v for k, v in result.breakdown.as_dict().items() if k != "total"}
        terms.update({"volume_keypoints": 0.0}, **result.extra)  # weighted, as they join the total
        # every output joins the loss, times 0: a head left unused by a zero loss weight gets a
        # zero gradient instead of none, so DDP's gradient reduction completes every step
        # (the same in one process, so both give the same updates)
        untouched = sum(v.sum() for v in _tensors(out) if v.is_floating_point())
        return result.total + 0.0 * untouched, terms

    def _train_step(self, micro_batches: list[MicroBatch]) -> tuple[float, dict[str, float]]:
        """One optimizer step over this process's micro-batches; (loss mean over processes, terms)."""
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        losses, terms = [], {}
        for i, micro in enumerate(micro_batches):
            self.skipped.update(micro.skipped)
            last = i == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last or not self.env.distributed else self.model_ddp.no_sync()
            with sync:
                loss, micro_terms = self._micro_loss(batch_to(micro.batch, self.env.device))
                self.scaler.scale(loss / len(micro_batches)).backward()
            losses.append(loss.detach())
            for k, v in micro_terms.items():
                terms[k] = terms.get(k, 0.0) + v / len(micro_batches)
        if self.cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        scale = self.scaler.get_scale()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scaler.get_scale() >= scale:  # a lower scale: GradScaler skipped a non-finite step
            self.scheduler.step()
        mean = mean_over_processes(torch.stack(losses).float().mean().reshape(1), self.env)
        return float(mean), terms

    def fit(self) -> TrainResult:
        """Train from the current step to the last; returns a :class:`TrainResult`."""
        cfg, env = self.cfg, self.env
        log = RunLog(self.out_dir, enabled=env.is_main, total_steps=self.total, start_step=self.step,
                     progress=self.progress)
        if env.is_main:
            save_config(cfg, self.out_dir / "train.yaml")
            if cfg.amp and not self.use_amp:
                log.note("amp=true is ignored on CPU (float32 throughout)")
        val = (validation_samples(cfg.data, self.model, workers=cfg.num_workers, progress=self.progress)
               if env.is_main else [])
        val = samples_to(val, env.device)
        for note in self.init_notes:
            log.note(f"init: {note}")
        loader = iter(train_loader(cfg, self.model, rank=env.rank, world_size=env.world_size,
                                   progress=self.progress and env.is_main, source=self.source,
                                   start_step=self.step, total_steps=self.total))
        if self.skipped:
            log.note(f"data: {cfg.data.source} dropped {sum(self.skipped.values())} entries while indexing "
                     f"({dict(self.skipped)})")
        losses, validations, last = [], [], None
        window = (time.perf_counter(), self.step)  # steps/s from here (rendering the sets excluded)
        if self.step >= self.total:
            log.note(f"already at step {self.step} of {self.total}: nothing to train (raise steps or epochs)")
        try:
            while self.step < self.total:
                lr = self.optimizer.param_groups[0]["lr"]  # the rate of this step
                loss, terms = self._train_step([next(loader) for _ in range(cfg.accumulate)])
                self.step += 1
                losses.append(loss)
                log.step(self.step, loss, lr)
                if self.step % cfg.log_every == 0 or self.step == self.total:
                    window = self._log_train(log, loss, terms, lr, window)
                self._note_epoch_end(log)
                if self.step == self.total or (cfg.val_every and self.step % cfg.val_every == 0):
                    last = self._validate_and_save(log, val, validations)
        finally:
            log.note(f"data: {sum(self.skipped.values())} training entries skipped"
                     + (f" ({dict(self.skipped)})" if self.skipped else ""))
            log.close()
        best_dir = self.out_dir / CHECKPOINTS / BEST
        return TrainResult(steps=self.step, losses=tuple(losses), last_checkpoint=last,
                           best_checkpoint=best_dir if env.is_main and best_dir.is_dir() else None,
                           best=self.best, validations=tuple(validations), skipped=dict(self.skipped))

    def _note_epoch_end(self, log: RunLog) -> None:
        """A note with the skip counts when the last step finished a pass over the training set."""
        n, length = self.cfg.samples_per_step, len(self.source)  # type: ignore[arg-type]
        epoch = self.step * n // length
        if epoch > (self.step - 1) * n // length:
            log.note(f"epoch {epoch} done at step {self.step}: {sum(self.skipped.values())} entries skipped so far"
                     + (f" ({dict(self.skipped)})" if self.skipped else ""))
    def _log_train(self, log: RunLog, loss: float, terms: dict[str, float], lr: float,
                   window: tuple[float, int]) -> tuple[float, int]:
        now = time.perf_counter()
        speed = (self.step - window[1]) / max(now - window[0], 1e-9)
        log.scalars(self.step, "train", {"loss": loss, **terms, "lr": lr, "steps_per_s": speed,
                                         "images_per_s": speed * 2 * self.cfg.batch_pairs,
                                         "skipped_entries": float(sum(self.skipped.values()))})
        return now, self.step

    def _validate_and_save(self, log: RunLog, val: list[SyntheticSample], validations: list[dict]) -> Optional[Path]:
        """Rank 0: validate, checkpoint, mirror the best; every rank waits for it."""
        folder = None
        if self.env.is_main:
            metrics = self.validator(self.net, val, log, self.step) if val else None
            improved = metrics is not None and (self.best is None or metrics["mpjpe_mm"] < self.best["mpjpe_mm"])
            if improved:
                self.best = {"mpjpe_mm": metrics["mpjpe_mm"], "step": self.step}
            if metrics is not None:
                validations.append({"step": self.step, **metrics})
            folder = self._save()
            if improved:
                link_or_copy_tree(folder, folder.parent / BEST)
                log.note(f"step {self.step}: best validation MPJPE {metrics['mpjpe_mm']:.1f} mm -> {BEST}")
        barrier(self.env)
        return folder

    def _save(self) -> Path:
        state = TrainState(step=self.step, optimizer=self.optimizer.state_dict(),
                           scheduler=self.scheduler.state_dict(), scaler=self.scaler.state_dict(),
                           rng=capture_rng(), best=self.best)
        folder = self.out_dir / CHECKPOINTS / f"step_{self.step:06d}"
        save_train_checkpoint(folder, network=self.net, config=self.cfg, state=state)
        steps = sorted(p for p in folder.parent.glob("step_[0-9]*") if p.is_dir() and not p.name.endswith(".tmp"))
        for old in steps[:-self.cfg.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        return folder


def train(cfg: TrainConfig, *, progress: bool = True) -> TrainResult:
    """Run ``cfg`` in this process (joining the ``torchrun`` group when ``WORLD_SIZE`` > 1)."""
    env = init_distributed(cfg.device)
    try:
        return Trainer(cfg, env, progress=progress).fit()
    finally:
        shutdown(env)
