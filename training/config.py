"""The training config: one typed, frozen ``TrainConfig`` loaded like every robosmplx config.

    cfg = load_train_config("training/configs/synthetic_body.yaml", ["steps=200", "optimizer.lr=5e-4"])
    save_config(cfg, folder / "train.yaml")          # beside every checkpoint

Defaults, then the YAML file, then ``key=value`` overrides (``robosmplx_core.config.load_config``
with ``schema=TrainConfig``): unknown keys are errors that list the valid keys, values are
checked by type and by each dataclass's ``__post_init__``.

Batch semantics: ``batch_pairs`` = N pairs per optimizer step over ALL processes; a step sees
2N images (N anchors + their N contrastive positives when ``objective.weights.contrastive > 0``,
else 2N independently augmented samples, as in ``training/loop.py``). Each of W processes
(``torchrun``) takes N / W pairs, split into ``accumulate`` micro-batches.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from robosmplx_core.config import BodyModelConfig, load_config
from robosmplx_core.data.augment import AugmentConfig
from robosmplx_core.data.synthetic import SyntheticConfig
from robosmplx_core.nets.config import NetworkConfig, SubnetConfig
from training.objective import ObjectiveConfig

STAGES = ("body", "hand", "face", "wholebody")
"""Stages this trainer runs (paper sec. 4.1): one part subnetwork each (hand and face networks
get the part-only branches, ``PartSubnetwork(part_only=True)``), then the whole-body network
(``nets.wholebody.WholeBodyNetwork``, ``training.wholebody``) on full images."""
STAGE_PARTS = {"body": "body", "hand": "hand", "face": "face", "wholebody": "body"}
"""The crops (``data.train.part``) each stage reads: the whole-body stage reads body samples at
full resolution (``data.train.image_size``) and crops body, hands and face from them itself."""
SCHEDULES = ("cosine", "step")
DATA_SOURCES = ("synthetic", "pseudolabel", "human36m", "coco_wholebody", "mpii", "lspet", "mpi_inf_3dhp", "3dpw",
                "agora", "freihand", "interhand", "ffhq", "affectnet", "bupt")
"""Names of ``training.sources.DATASETS``: the synthetic renderer, then the adapters of
``robosmplx_core.data.datasets`` (read from ``data.path``): body, hand, face sets."""
_ALL_PARTS = ("body", "hand", "face")
SOURCE_PARTS: dict[str, tuple[str, ...]] = {
    "synthetic": _ALL_PARTS, "pseudolabel": _ALL_PARTS, "coco_wholebody": _ALL_PARTS,
    "human36m": ("body",), "mpii": ("body",), "lspet": ("body",), "mpi_inf_3dhp": ("body",), "3dpw": ("body",),
    "agora": ("body",), "freihand": ("hand",), "interhand": ("hand",), "ffhq": ("face",), "affectnet": ("face",),
    "bupt": ("face",),
}
"""The parts (``data.train.part`` = ``stage``) each source gives crops of."""
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class MixSource:
    """One member of a mixed training set (``data.mix``).

    source: a ``DATA_SOURCES`` name; path: its dataset folder (none for "synthetic"); weight: its
    share of the drawn samples (> 0; the weights of a mix are normalised), e.g. the paper's body
    mix H36M 0.5, COCO 0.233, LSPET 0.046, MPII 0.021, MPI-INF-3DHP 0.2.
    """

    source: str = "synthetic"
    path: Optional[str] = None
    weight: float = 1.0


@dataclass(frozen=True)
class DataConfig:
    """Training and validation data.

    source: which dataset builder (``training.sources.DATASETS``, one of ``DATA_SOURCES``)
        makes the training set: "synthetic" renders it, the others read ``path``; it must give
        crops of the stage's part (``SOURCE_PARTS``). Ignored when ``mix`` is set.
    path: the dataset folder of a non-synthetic source (e.g. the ``--out`` folder of
        ``robosmplx pseudolabel``); null for "synthetic".
    crop_scale: non-synthetic sources: crop side / the person box's longer side.
    min_body_confidence, max_reprojection_px: "pseudolabel" only: drop labels whose body
        confidence is lower / whose fit reprojects worse (pixels; null = keep all).
    train: the synthetic training set (``length`` samples; ``image_size`` = the network's
        input size (stage wholebody: the full image it crops from), also the crop side of the
        other sources; ``part`` = the stage's part, "body" for the whole-body stage).
    val_seed, val_size: the held-out synthetic set (same settings as ``train``, another seed),
        rendered once; ``val_size`` 0 = no validation.
    augment: apply the paper's augmentations (``data.augment.augment_sample``) to anchors.
    augmentation: their probabilities and ranges (positives use location + colour only).
    preload: render the whole training set into memory once (each process) instead of on the
        fly in the loader; for small sets on slow CPUs.
    mean_init_samples: start the regressor at the mean pose and shape of this many training
        samples (HMR's mean-parameter initialisation); 0 = the rest pose, upright.
    mix: several sources in one run (:class:`MixSource` list; ``training.sources.MixedDataset``
        draws each sample's source with the weights, deterministically); empty = ``source``.
        The other data settings (crop_scale, pseudolabel filters, train.image_size) apply to
        every member.
    """

    source: str = "synthetic"
    path: Optional[str] = None
    crop_scale: float = 1.25
    min_body_confidence: float = 0.0
    max_reprojection_px: Optional[float] = None
    train: SyntheticConfig = field(default_factory=SyntheticConfig)
    val_seed: int = 1000
    val_size: int = 200
    augment: bool = True
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    preload: bool = False
    mean_init_samples: int = 64
    mix: list[MixSource] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i, member in enumerate(self.mix):
            if member.source not in DATA_SOURCES or member.weight <= 0:
                raise ValueError(f"data.mix[{i}]: expected a source in {DATA_SOURCES} with weight > 0, got "
                                 f"{member.source!r} with weight {member.weight}")
            if member.source != "synthetic" and not member.path:
                raise ValueError(f"data.mix[{i}].path: source {member.source} reads a dataset folder; set its path")
            if self.train.part not in SOURCE_PARTS[member.source]:
                raise ValueError(f"data.mix[{i}]: {member.source} gives {'/'.join(SOURCE_PARTS[member.source])} "
                                 f"crops, not {self.train.part} crops")
        if self.mean_init_samples < 0:
            raise ValueError(f"data.mean_init_samples: expected >= 0, got {self.mean_init_samples}")
        if self.source not in DATA_SOURCES:
            raise ValueError(f"data.source: expected one of {DATA_SOURCES}, got {self.source!r} (datasets plug "
                             "in through training.sources.DATASETS)")
        if not self.mix and self.train.part not in SOURCE_PARTS[self.source]:
            usable = [k for k, parts in SOURCE_PARTS.items() if self.train.part in parts]
            raise ValueError(f"data.source={self.source} gives {'/'.join(SOURCE_PARTS[self.source])} crops, not "
                             f"{self.train.part} crops (data.train.part, = stage); for {self.train.part} use one of {usable}")
        if not self.mix and self.source != "synthetic" and not self.path:
            raise ValueError(f"data.path: data.source={self.source} reads a dataset folder; set data.path=FOLDER "
                             "(for pseudolabel: the --out folder of `robosmplx pseudolabel`)")
        if self.crop_scale <= 0 or not 0.0 <= self.min_body_confidence <= 1.0 or (
                self.max_reprojection_px is not None and self.max_reprojection_px <= 0):
            raise ValueError(f"data: expected crop_scale > 0, 0 <= min_body_confidence <= 1 and max_reprojection_px "
                             f"> 0 or null; got {self.crop_scale}, {self.min_body_confidence}, "
                             f"{self.max_reprojection_px}")
        if self.val_size < 0 or self.train.length < 1:
            raise ValueError(f"data: expected val_size >= 0 and train.length >= 1, got {self.val_size}, "
                             f"{self.train.length}")
        if self.val_size and self.val_seed == self.train.seed:
            raise ValueError(f"data.val_seed ({self.val_seed}) equals data.train.seed: the validation set would "
                             "repeat the training samples; pick another data.val_seed")


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam (Kingma & Ba 2015) with L2 weight decay.

    lr: peak learning rate (after warm-up); the paper's 2.5e-4.
    weight_decay: L2 penalty added to the gradients (0 = off).
    betas: Adam's moment decay rates.
    """

    lr: float = 2.5e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        if not self.lr > 0 or self.weight_decay < 0 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"optimizer: expected lr > 0, weight_decay >= 0, betas in [0, 1); got {self.lr}, "
                             f"{self.weight_decay}, {self.betas}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule over the run's optimizer steps (factor of ``optimizer.lr``).

    kind: "cosine" (to ``final_lr_ratio`` at the last step) or "step" (times ``gamma`` at each
        milestone).
    warmup_steps: linear ramp from ``warmup_start_ratio`` to 1 over these first steps.
    final_lr_ratio: cosine only, the factor at the end.
    milestones: step only, fractions of the run (0..1) where the factor is multiplied by gamma.
    """

    kind: str = "cosine"
    warmup_steps: int = 0
    warmup_start_ratio: float = 0.01
    final_lr_ratio: float = 0.01
    milestones: tuple[float, ...] = (0.6, 0.9)
    gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule.kind: expected one of {SCHEDULES}, got {self.kind!r}")
        if self.warmup_steps < 0 or not 0 < self.warmup_start_ratio <= 1 or not 0 <= self.final_lr_ratio <= 1:
            raise ValueError("schedule: expected warmup_steps >= 0, 0 < warmup_start_ratio <= 1 and "
                             f"0 <= final_lr_ratio <= 1; got {self.warmup_steps}, {self.warmup_start_ratio}, "
                             f"{self.final_lr_ratio}")
        if not all(0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"schedule.milestones: expected increasing fractions of the run in (0, 1), got "
                             f"{self.milestones}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"schedule.gamma: expected 0 < gamma <= 1, got {self.gamma}")


@dataclass(frozen=True)
class PartInits:
    """Checkpoint folders whose weights start the whole-body network's subnetworks (null = keep).

    body, hand, face: e.g. the ``checkpoints/best`` of the body, hand and face stages. Part-only
    branches of a hand / face checkpoint (its own orientation, betas, camera) are dropped: the
    whole-body network takes those from the body. The rest must match the architecture
    (``network`` / ``wholebody.hand`` / ``wholebody.face``).
    """

    body: Optional[str] = None
    hand: Optional[str] = None
    face: Optional[str] = None


@dataclass(frozen=True)
class WholeBodyStageConfig:
    """The whole-body stage (``stage=wholebody``): the body subnetwork is ``network``; these add
    the hand and face subnetworks and the cropping (``nets.config.NetworkConfig``).

    hand, face: the part subnetworks' sizes (their ``input_size`` = the part crop side).
    body_box_scale, hand_box_scale, face_box_scale, min_part_box_px, box_head_channels: as in
        ``NetworkConfig``; the L_box targets are the ground-truth part boxes enlarged by the same
        scales, so the corrected boxes aim at the crops the part subnetworks were trained on.
    init_parts: start the subnetworks from the three part stages' checkpoints (applied after
        ``init``, so ``init`` = a whole-body checkpoint + ``init_parts.hand/face`` is the paper's
        fine-tuning with the part subnetworks swapped in).
    """

    hand: SubnetConfig = field(default_factory=SubnetConfig)
    face: SubnetConfig = field(default_factory=SubnetConfig)
    # the cropping fields and their defaults are NetworkConfig's (one source for both)
    body_box_scale: float = NetworkConfig.body_box_scale
    hand_box_scale: float = NetworkConfig.hand_box_scale
    face_box_scale: float = NetworkConfig.face_box_scale
    min_part_box_px: float = NetworkConfig.min_part_box_px
    box_head_channels: int = NetworkConfig.box_head_channels
    init_parts: PartInits = field(default_factory=PartInits)

    def network_config(self, body: SubnetConfig) -> NetworkConfig:
        """The ``NetworkConfig`` of the whole-body network with ``body`` as its body subnetwork."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(NetworkConfig) if f.name != "body"}
        return NetworkConfig(body=body, **shared)


@dataclass(frozen=True)
class TrainConfig:
    """One training run (module docstring for the batch layout).

    stage: what is trained (``STAGES``): the "body", "hand" or "face" subnetwork, or the
        "wholebody" network; picks the network, the objective and the validation metrics.
    body_model: SMPL-X used by the objective and the renderer; ``use_face_contour`` must stay
        true (the 137 whole-body joints); ``device`` is ignored (the run's device is used).
    network, objective, data, optimizer, schedule: the sections above (stage wholebody:
        ``network`` is its body subnetwork).
    wholebody: the rest of the whole-body network and its part initialisation (stage
        wholebody only).
    steps / epochs: run length, exactly one set (epochs: passes over ``data.train.length``;
        set ``steps=null`` with it).
    batch_pairs: N pairs per optimizer step over all processes (2N images).
    accumulate: micro-batches per process and step (gradients accumulated).
    grad_clip: max global gradient norm (0 = off).
    amp: float16 autocast + GradScaler for the network on CUDA (the loss stays float32);
        ignored with a note on CPU.
    sync_batchnorm: multi-GPU CUDA runs: BatchNorm statistics over all processes (then W
        processes with N/W pairs each match one process with N pairs).
    device: "auto" (CUDA when present, else CPU), "cpu" or "cuda".
    seed: network initialisation, data order and augmentations; the run is a function of it.
    val_every: validate (and checkpoint) every this many steps (0 = only at the end).
    keep_checkpoints: newest step checkpoints kept (``best`` is kept apart).
    log_every: TensorBoard / metrics.jsonl scalars every this many steps.
    out_dir: run folder (checkpoints/, tensorboard/, metrics.jsonl).
    resume: a ``checkpoints/step_XXXXXX`` folder to continue from (same network), or null.
    init: fine-tune: start from the weights of this checkpoint folder (any checkpoint of the
        same subnetwork architecture and part, e.g. a synthetic run's ``checkpoints/best``) with a
        fresh optimizer and schedule; null = random initialisation. Exclusive with ``resume``.
    num_workers: DataLoader processes rendering and augmenting samples (0 = in-process).
    """

    stage: str = "body"
    body_model: BodyModelConfig = field(default_factory=lambda: BodyModelConfig(use_face_contour=True))
    network: SubnetConfig = field(default_factory=SubnetConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    wholebody: WholeBodyStageConfig = field(default_factory=WholeBodyStageConfig)
    steps: Optional[int] = 1000
    epochs: Optional[int] = None
    batch_pairs: int = 16
    accumulate: int = 1
    grad_clip: float = 0.0
    amp: bool = True
    sync_batchnorm: bool = True
    device: str = "auto"
    seed: int = 0
    val_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 10
    out_dir: str = "out/train"
    resume: Optional[str] = None
    init: Optional[str] = None
    num_workers: int = 2

    def __post_init__(self) -> None:
        self._check_stage()
        if (self.steps is None) == (self.epochs is None) or (self.steps or self.epochs or 0) < 1:
            raise ValueError(f"set exactly one of steps and epochs (>= 1), got steps={self.steps}, "
                             f"epochs={self.epochs}; e.g. steps=1000 epochs=null, or epochs=50 steps=null")
        bad = {k: getattr(self, k) for k in ("batch_pairs", "accumulate", "log_every", "keep_checkpoints")
               if getattr(self, k) < 1}
        bad |= {k: getattr(self, k) for k in ("grad_clip", "val_every", "num_workers") if getattr(self, k) < 0}
        if bad:
            raise ValueError(f"out of range: {bad}; batch_pairs, accumulate, log_every and keep_checkpoints must "
                             "be >= 1, grad_clip, val_every and num_workers >= 0")
        if self.batch_pairs % self.accumulate:
            raise ValueError(f"batch_pairs ({self.batch_pairs}) must be a multiple of accumulate ({self.accumulate})")
        if self.init and self.resume:
            raise ValueError("set at most one of init (fine-tune from weights) and resume (continue a run), got "
                             f"init={self.init}, resume={self.resume}")
        if self.device not in DEVICES:
            raise ValueError(f"device: expected one of {DEVICES}, got {self.device!r}")
        if not self.body_model.use_face_contour:
            raise ValueError("body_model.use_face_contour must be true for training (the objective uses the "
                             "137 whole-body joints, which include the face contour)")
        self._check_sizes()

    def _check_stage(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage: unknown stage {self.stage!r}; expected one of {STAGES}")
        part = STAGE_PARTS[self.stage]
        if self.data.train.part != part:
            raise ValueError(f"data.train.part ({self.data.train.part!r}) must be {part!r} for stage "
                             f"{self.stage!r}; set data.train.part={part}")
        if self.stage != "wholebody" and self.wholebody != WholeBodyStageConfig():
            raise ValueError(f"wholebody.* settings apply to stage wholebody only (this run trains stage "
                             f"{self.stage!r}); drop them or set stage=wholebody")
        if self.stage == "wholebody":
            w = self.objective.weights
            if w.segmentation or w.contrastive:
                raise ValueError("stage wholebody: objective.weights.segmentation and .contrastive must be 0 (the "
                                 "whole-body objective has no crop-aligned part maps and no positive pairs); set "
                                 "objective.weights.segmentation=0 objective.weights.contrastive=0")
            self.network_config  # noqa: B018 (validates the cropping settings)
            if not self.network.use_localization:
                raise ValueError("stage wholebody: the body subnetwork needs its Localization Module (the part "
                                 "boxes come from its joints); set network.use_localization=true")

    @property
    def network_config(self) -> SubnetConfig | NetworkConfig:
        """The architecture this run trains: ``network``, or the whole-body ``NetworkConfig``."""
        return self.wholebody.network_config(self.network) if self.stage == "wholebody" else self.network

    def _check_sizes(self) -> None:
        size = self.network.input_size or 256
        if self.stage == "wholebody":
            if self.data.train.image_size < size:
                raise ValueError(f"stage wholebody: data.train.image_size ({self.data.train.image_size}) is the full "
                                 f"image and must be at least the body crop (network.input_size = {size})")
            size = self.data.train.image_size
        if self.data.train.image_size != size:
            raise ValueError(f"data.train.image_size ({self.data.train.image_size}) must equal the network's "
                             f"input size ({size}, network.input_size); set both to the same value")
        w = self.objective.weights
        if (w.projection or w.silhouette) and self.objective.render_size != size // 4:
            raise ValueError(f"objective.render_size ({self.objective.render_size}) must be the part-map side, "
                             f"training image side / 4 = {size // 4}; set objective.render_size={size // 4}")

    @property
    def positives(self) -> bool:
        """The batch is N anchors then their N positives (the contrastive term is on)."""
        return self.objective.weights.contrastive > 0

    @property
    def samples_per_step(self) -> int:
        """Dataset samples drawn per optimizer step: N with positives, else 2N."""
        return self.batch_pairs if self.positives else 2 * self.batch_pairs


def load_train_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Defaults < YAML ``path`` < ``key=value`` overrides (see ``robosmplx_core.config.load_config``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: unknown key (the valid keys listed), wrong type, or a rejected value.
    """
    return load_config(path, overrides, schema=TrainConfig)
