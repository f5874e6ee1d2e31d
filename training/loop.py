"""A time-budgeted training loop for a Body subnetwork on a pool of synthetic samples.

Used by ``benchmarks/learning_check.py`` (the proof that the networks learn on this CPU):
samples are rendered once into an in-memory pool (rendering costs more than a training step
of a small network on 2 cores), then every step draws N anchors from the pool, applies the
paper's augmentations (``data.augment.augment_sample``) and, when the contrastive term is on,
appends each anchor's positive (``positive_pair``: location + colour only) so the batch is the
2N layout of eq. 2; without it the batch is 2N independently augmented samples (same size).

Two stages for a network with the 2D keypoint stage (``LoopConfig.keypoint_stage > 0``): the
first part of the budget trains the backbone and the keypoint head alone on the heatmap term
(``BodyObjective.heatmap_loss``; only the cheap front of the network runs); then both are
frozen (no gradients, batch norm in eval mode) and the rest of the network trains on the full
objective for the remaining time, reading the keypoints as its 2D input.

A network with the facing branch (``nets.facing``) trains it in both stages. In the first, its
head patches are placed by the ground-truth keypoints (jittered by about the keypoint stage's
error) on the batch and on ``facing_samples`` more crops drawn from the pool as rendered (the
branch is cheap next to the backbone and needs many more images than the backbone sees); in
the second, by the network's own keypoints, on the batch, through the objective's facing term.
A network with the keypoint lifter (``nets.lifter``) trains it in the first stage too, on
ground-truth keypoints (of a ``data.pose_bank`` if given, else of those crops) named as at test
time, and in the second through the full objective (its output is part of the regressor's).

``LoopConfig.precision="bf16"`` runs the network's forward passes under bfloat16 autocast
(``torch.autocast``): on a CPU with native bfloat16 arithmetic (``bf16_supported``: AVX-512 BF16
or AMX) a keypoint-stage step takes about two thirds of its float32 time. The weights, the
optimiser state, the objective, the body model and the renderer stay float32 (``as_float``).
"""

from __future__ import annotations

import copy as copy_module
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from robosmplx_core.data.augment import AugmentConfig, augment_sample, positive_pair
from robosmplx_core.data.datasets.common import TrainingBatch
from robosmplx_core.data.pose_bank import PoseBank
from robosmplx_core.data.synthetic import SyntheticBatch, SyntheticDataset, SyntheticSample, collate_samples
from robosmplx_core.losses import keypoints_3d_loss, rotation_loss
from robosmplx_core.nets._ops import rot6d_to_rotmat_export
from robosmplx_core.nets.facing import MIN_KEYPOINTS, facing_targets, head_patch_boxes, sample_patches
from robosmplx_core.nets.sides import assign_sides
from robosmplx_core.nets.subnet import PartSubnetwork, normalize_images
from robosmplx_core.types import SMPLXParams
from training.objective import PELVIS, BodyObjective


PRECISIONS = ("fp32", "bf16")


def bf16_supported(device: torch.device | str) -> bool:
    """Whether ``device`` has native bfloat16 arithmetic (CPU: oneDNN's AVX-512 BF16 / AMX path)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:  # a private op of torch's oneDNN build; absent from builds without oneDNN
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _forward_precision(device: torch.device, cfg: "LoopConfig"):
    """The autocast context of the network's forward passes (a no-op for ``fp32``)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")


def as_float(out):
    """Every floating tensor of a (nested dataclass) network output in float32: outputs of an
    autocast region may be bfloat16 or float16; the objectives and the body model run in float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if dataclasses.is_dataclass(out):
        return dataclasses.replace(out, **{f.name: as_float(getattr(out, f.name)) for f in dataclasses.fields(out)})
    return out


@dataclass(frozen=True)
class LoopConfig:
    """Optimisation settings.

    pairs_per_step: N; every step sees 2N images.
    lr: Adam learning rate (cosine-decayed to ``lr * final_lr_ratio`` over the budget).
    grad_clip: max gradient norm (0 = off).
    augment: apply ``augment_sample`` to the anchors (else the pool's images as rendered).
    seed: draws of anchors and augmentations.
    keypoint_stage: fraction of the budget that trains the 2D keypoint stage first (module
        docstring); 0 = train everything together. Needs a network with that stage.
    facing_samples: extra pool crops per first-stage step for the facing branch (module
        docstring; networks with that branch only).
    facing_jitter: std of the shift of those patches' centres (normalised crop units; sides
        are scaled by ``exp`` of the same std).
    lifter_noise_px: std of the noise added to the lifter's ground-truth keypoints in the first
        stage (crop pixels; about the keypoint stage's held-out error).
    lifter_samples: pose-bank entries per first-stage step for the lifter (``train_for``'s
        ``pose_bank``).
    lifter_rotation: weight of an L1 term on the lifter's global-orientation matrix (0 = off:
        the joint term alone leaves the pelvis's turn about its up axis to the hips and spine).
    precision: "fp32", or "bf16": the network's forward passes run under bfloat16 autocast
        (``torch.autocast``; weights, optimiser state, losses and the body model stay float32;
        ``bf16_supported`` says whether the device has native bfloat16 arithmetic, without which
        it is slower, not faster).
    """

    pairs_per_step: int = 8
    lr: float = 1e-3
    final_lr_ratio: float = 0.05
    grad_clip: float = 5.0
    augment: bool = True
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    keypoint_stage: float = 0.0
    facing_samples: int = 48
    facing_jitter: float = 0.03
    lifter_noise_px: float = 3.0
    lifter_samples: int = 128
    lifter_rotation: float = 0.0
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.pairs_per_step < 1 or self.lr <= 0 or not 0 < self.final_lr_ratio <= 1:
            raise ValueError("LoopConfig: pairs_per_step >= 1, lr > 0 and 0 < final_lr_ratio <= 1 expected")
        if not 0.0 <= self.keypoint_stage < 1.0:
            raise ValueError(f"LoopConfig.keypoint_stage: expected a fraction in [0, 1), got {self.keypoint_stage}")
        if self.lifter_rotation < 0:
            raise ValueError(f"LoopConfig.lifter_rotation: expected a weight >= 0, got {self.lifter_rotation}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"LoopConfig.precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if self.lifter_samples < 1:
            raise ValueError(f"LoopConfig.lifter_samples: expected >= 1, got {self.lifter_samples}")
        if self.facing_samples < 0 or self.facing_jitter < 0 or self.lifter_noise_px < 0:
            raise ValueError("LoopConfig: facing_samples, facing_jitter and lifter_noise_px >= 0 expected, got "
                             f"{self.facing_samples}, {self.facing_jitter}, {self.lifter_noise_px}")


@dataclass(frozen=True)
class TrainHistory:
    """steps, seconds spent, and the loss of every step (floats); ``keypoint_steps`` of them
    (the first) trained the 2D keypoint stage alone, on the heatmap term (plus the facing
    branch's and the lifter's first-stage terms when the network has them)."""

    steps: int
    seconds: float
    losses: tuple[float, ...]
    keypoint_steps: int = 0


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


def _cosine_lr(opt: torch.optim.Optimizer, cfg: LoopConfig, frac: float) -> None:
    for group in opt.param_groups:  # cosine decay by wall time
        group["lr"] = cfg.lr * (cfg.final_lr_ratio + (1 - cfg.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def _run_steps(seconds: float, step: Callable[[float], float], bar: tqdm, stage: str) -> list[float]:
    """Call ``step(frac) -> loss`` until ``seconds`` of wall time have passed (at least once)."""
    losses: list[float] = []
    start, elapsed = time.perf_counter(), 0.0
    while not losses or elapsed < seconds:
        losses.append(step(min(elapsed / seconds, 1.0) if seconds > 0 else 1.0))
        now = time.perf_counter() - start
        bar.update(round(now) - round(elapsed))
        bar.set_postfix(stage=stage, loss=f"{losses[-1]:.3f}", steps=len(losses))
        elapsed = now
    return losses


def _first_stage_extras(net: PartSubnetwork, objective: BodyObjective, pool: list[SyntheticSample],
                        batch: SyntheticBatch, images: torch.Tensor, gen: torch.Generator,
                        cfg: LoopConfig, bank: PoseBank | None) -> torch.Tensor:
    """First-stage terms of the facing branch and the lifter, on the batch (``images``: its
    normalised crops) and ``cfg.facing_samples`` pool crops, from their ground truth (module
    docstring): weighted facing BCE on head patches at jittered keypoints (randomly mirrored: a
    mirrored person faces the same way), plus the lifter's L1 on root-aligned joints (metres),
    on ``cfg.lifter_samples`` entries of ``bank`` if given, else on the same crops."""
    idx = torch.randint(len(pool), (cfg.facing_samples,), generator=gen).tolist()
    extra = [pool[i] for i in idx]
    device, size = images.device, int(batch.image.shape[-1])
    joints2d = torch.cat([batch.joints2d.cpu()] + [s.joints2d[None] for s in extra])
    orient = torch.cat([batch.params.global_orient.cpu()] + [s.params.global_orient for s in extra])
    target = facing_targets(orient)
    loss = images.new_zeros(())
    if objective.config.facing:
        crops = torch.cat([images, normalize_images(torch.stack([s.image for s in extra]).to(device))]) \
            if extra else images
        boxes = head_patch_boxes(2.0 * joints2d[:, :MIN_KEYPOINTS] / size - 1.0)
        noise = torch.randn(len(boxes), 3, generator=gen) * cfg.facing_jitter
        boxes = torch.cat([boxes[:, :2] + noise[:, :2], boxes[:, 2:] * noise[:, 2:].exp()], dim=1)
        patches = sample_patches(crops, boxes.to(device), net.facing_head.patch_size)
        mirror = torch.rand(len(boxes), generator=gen) < 0.5
        patches = torch.where(mirror.to(device)[:, None, None, None], patches.flip(-1), patches)
        logits = net.facing_head.classify(patches)
        loss = objective.config.facing * F.binary_cross_entropy_with_logits(logits, target.to(logits))
    if net.lifter is not None and bank is not None:
        pick = torch.randint(len(bank), (cfg.lifter_samples,), generator=gen)
        loss = loss + _lifter_loss(net, objective, 2.0 * bank.joints2d[pick] / bank.image_size - 1.0,
                                   bank.global_orient[pick], bank.joints3d[pick], gen, cfg, device)
    elif net.lifter is not None:
        gt = torch.cat([batch.joints3d.cpu()] + [s.joints3d[None] for s in extra])
        loss = loss + _lifter_loss(net, objective, 2.0 * joints2d / size - 1.0, orient, gt, gen, cfg, device)
    return loss


def _lifter_loss(net: PartSubnetwork, objective: BodyObjective, joints2d: torch.Tensor, orient: torch.Tensor,
                 joints3d: torch.Tensor, gen: torch.Generator, cfg: LoopConfig, device: torch.device) -> torch.Tensor:
    """The lifter's L1 on root-aligned joints (metres) from ground-truth keypoints ``joints2d``
    (B, J, 2) (normalised crop coordinates) plus noise, their pairs named as at test time
    (``nets.sides``) by a simulated, calibrated facing probability: confidence ``c ~ U(0.5, 1)``,
    right with probability ``c``; ``orient`` (B, 3, 3) the true global orientations (their
    facing bits; with ``cfg.lifter_rotation`` also an L1 target), ``joints3d`` (B, J, 3) the truth."""
    facing = facing_targets(orient)
    n = net.lifter.num_keypoints
    xy = joints2d[:, :n] + torch.randn(joints2d[:, :n].shape, generator=gen) * (2.0 * cfg.lifter_noise_px / net.input_size)
    left, right = (list(side) for side in net.side_pairs)
    pair = torch.stack([xy[:, left], xy[:, right]], dim=2)  # (B, P, 2, 2)
    swap = (pair[:, :, 0, 0] > pair[:, :, 1, 0])[..., None, None]
    ordered = torch.where(swap, pair.flip(2), pair)  # image-left first
    confidence = 0.5 + 0.5 * torch.rand(len(xy), generator=gen)
    shown = torch.where(torch.rand(len(xy), generator=gen) < confidence, facing, 1.0 - facing)
    prob = torch.where(shown > 0.5, confidence, 1.0 - confidence)
    keypoints = assign_sides(xy, ordered, prob, left, right).to(device)
    flat = net.lifter(keypoints, prob.to(device)) + net.regressor_out.bias.detach()
    groups = net.flat_groups(flat)
    rotmats = rot6d_to_rotmat_export(groups["rot6d"].unflatten(1, (net.spec.num_rotations, 6)))
    rest = SMPLXParams.zeros(len(xy), num_betas=objective.body_model.num_betas,
                             num_expression=objective.body_model.num_expression, device=device)
    params = dataclasses.replace(rest, global_orient=rotmats[:, 0], body_pose=rotmats[:, 1:22], betas=groups["betas"])
    pred = objective.body_model.joints(params)[:, objective.joint_index]
    loss = keypoints_3d_loss(pred, joints3d.to(device), root_index=PELVIS)
    if cfg.lifter_rotation:
        loss = loss + cfg.lifter_rotation * rotation_loss(rotmats[:, :1], orient.to(device)[:, None])
    return loss


def _frozen_front(net: PartSubnetwork) -> list[torch.nn.Module]:
    """The modules of the 2D keypoint stage (trained first, then frozen)."""
    return [net.backbone, net.keypoint_head]


def train_for(net: PartSubnetwork, objective: BodyObjective, pool: list[SyntheticSample], *, seconds: float,
              config: LoopConfig | None = None, progress: bool = True,
              pose_bank: PoseBank | None = None) -> TrainHistory:
    """Train ``net`` in place for ``seconds`` of wall time (whole steps; at least one per stage).

    Batches are drawn and augmented on the CPU and moved to the device of ``net``'s parameters
    (``net`` and ``objective`` must already be there). With ``config.keypoint_stage > 0`` the
    backbone and keypoint head are frozen afterwards (``requires_grad`` False). A network with
    the lifter trains it in the first stage on ``pose_bank`` (``data.pose_bank``; ``None``: on
    the ground truth of the crops the facing branch sees).

    Raises:
        ValueError: ``keypoint_stage > 0`` for a network without the keypoint stage.
    """
    cfg = config or LoopConfig()
    if cfg.keypoint_stage and net.keypoint_head is None:
        raise ValueError("train_for: LoopConfig.keypoint_stage > 0 needs a network with the 2D keypoint stage "
                         "(SubnetConfig.keypoint_joints > 0); set keypoint_stage=0 for this network")
    device = next(net.parameters()).device
    gen = torch.Generator().manual_seed(cfg.seed)
    positives = objective.config.weights.contrastive > 0
    bar = tqdm(total=round(seconds), desc="train", unit="s", disable=not progress, leave=False)
    start = time.perf_counter()
    net.train()
    first: list[float] = []
    if cfg.keypoint_stage:
        front = torch.nn.ModuleList(_frozen_front(net))
        facing = net.facing_head is not None and bool(objective.config.facing)
        extras = facing or net.lifter is not None  # first-stage terms of the branch / the lifter
        trained = torch.nn.ModuleList(list(front) + ([net.facing_head] if facing else [])
                                      + ([net.lifter] if net.lifter is not None else []))
        opt = torch.optim.Adam(trained.parameters(), lr=cfg.lr)

        def keypoint_step(frac: float) -> float:
            _cosine_lr(opt, cfg, frac)
            batch = batch_to(_batch(pool, gen, cfg, False), device)
            images = normalize_images(batch.image)
            with _forward_precision(device, cfg):
                heatmaps = net.keypoint_head(net.backbone(images))
            loss = objective.heatmap_loss(heatmaps.float(), batch)
            if extras:
                loss = loss + _first_stage_extras(net, objective, pool, batch, images, gen, cfg, pose_bank)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(trained.parameters(), cfg.grad_clip)
            opt.step()
            return float(loss.detach())

        first = _run_steps(seconds * cfg.keypoint_stage, keypoint_step, bar, "2D")
        for module in front:
            module.requires_grad_(False)
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=cfg.lr)

    def step(frac: float) -> float:
        _cosine_lr(opt, cfg, frac)
        net.train()
        if cfg.keypoint_stage:  # the frozen stage keeps its batch-norm statistics
            for module in _frozen_front(net):
                module.eval()
        batch = batch_to(_batch(pool, gen, cfg, positives), device)
        with _forward_precision(device, cfg):
            out = net(normalize_images(batch.image))
        result = objective(as_float(out), batch, paired_positives=positives)
        opt.zero_grad(set_to_none=True)
        result.total.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
        opt.step()
        return float(result.total.detach())

    rest = _run_steps(max(seconds - (time.perf_counter() - start), 0.0), step, bar, "all")
    bar.close()
    net.eval()
    return TrainHistory(steps=len(first) + len(rest), seconds=time.perf_counter() - start,
                        losses=tuple(first + rest), keypoint_steps=len(first))
