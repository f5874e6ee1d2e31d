"""``--data NAME:PATH`` of ``robosmplx eval``: which evaluation set, built at the network's crop size
(a whole-body network: body samples at its full image size, ``EvalContext.input_size``).

    synthetic:seed=1000,n=200      rendered on the fly (no path; part and crop size follow the
                                   checkpoint; defaults: the learning check's held-out set)
    ehf:/data/EHF                  EHF (body; GT = the registered meshes)
    agora:/data/AGORA              AGORA validation split, Hand4Whole's JSON export (body, hand or
                                   face crops, as the checkpoint; 3D joints, no meshes)
    3dpw:/data/3DPW                3DPW test split (body; 3D joints; SMPL betas are not SMPL-X's,
                                   so no meshes)
    freihand:/data/FreiHAND        FreiHAND training layout (hand; 3D joints, no meshes)
    stirling:/data/Stirling        Stirling/ESRC FG 2018 HQ photos (face; GT = 3D scans, 3DRMSE)
    h36m:/data/Human36M            Human3.6M protocol 2 test subjects 9 and 11, every 64th frame

``DATASETS`` is the literal table name -> :class:`DatasetEntry`. Real adapters crop with their
own default ``CropConfig`` (box extension) at the checkpoint's input size; the adapters written
alongside this command (AGORA, 3DPW, Stirling) are imported only when named, so one that fails to
import disables only its own name. Every source yields
:class:`~training.robustness.EvalItem` s, so any adapter works with the robustness protocol.

Errors: an unknown name lists the valid ones; a wrong part (e.g. a hand checkpoint on EHF)
names the datasets of the right part; a missing dataset folder raises the adapter's
``DatasetError`` (it names the expected layout).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Optional

import numpy as np
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.datasets import EHFDataset, FreiHandDataset, Human36MDataset, from_synthetic
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.nets.specs import PART_NAMES
from training.robustness import EvalItem, ScanTruth

__all__ = ["DATASETS", "DataSpec", "DatasetEntry", "EvalContext", "EvalSource", "parse_data_spec",
           "build_source", "check_part", "datasets_for", "iter_items", "source_length"]

SYNTHETIC_DEFAULTS: dict[str, int] = {"seed": 1000, "n": 200}
"""The learning check's held-out set (``benchmarks/learning_check.py``: seed 1000, 200 samples)."""


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` value: ``name``, ``path`` (None for synthetic), ``options`` (synthetic:
    ``seed``, ``n``, ``crop_scale``), ``text`` as given."""

    name: str
    path: Optional[Path]
    options: Mapping[str, float] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class EvalContext:
    """What a source is built for: the checkpoint's ``part``, the side ``input_size`` (S) of the
    samples (a subnetwork's input size; for a whole-body network, part "body" and the FULL image
    size it crops body, hands and face from), and the body model (synthetic rendering)."""

    part: str
    input_size: int
    body_model: BodyModel


@dataclass(frozen=True)
class EvalSource:
    """A built evaluation set.

    Fields:
        name: dataset name; part: "body" | "hand" | "face".
        dataset: ``len()`` and ``[i] -> TrainingSample`` (an adapter, or the synthetic wrapper).
        gt_vertices: ``fn(sample.index) -> (V, 3)`` GT mesh in the camera frame, for sources whose
            ground truth is a mesh (EHF); None otherwise.
        gt_scan: ``fn(sample.index) -> ScanTruth | None`` for sources whose ground truth is a scan
            (Stirling); None otherwise.
    """

    name: str
    part: str
    dataset: torch.utils.data.Dataset
    gt_vertices: Optional[Callable[[int], np.ndarray]] = None
    gt_scan: Optional[Callable[[int], Optional[ScanTruth]]] = None

    def skipped(self) -> dict[str, int]:
        """Entries the adapter dropped, by reason."""
        return dict(self.dataset.skipped)


@dataclass(frozen=True)
class DatasetEntry:
    """One ``--data`` name: ``part`` (None = the checkpoint's), ``needs_path``, ``build(spec, ctx)``,
    and a one-line ``description`` for the help text."""

    part: Optional[str]
    needs_path: bool
    build: Callable[[DataSpec, EvalContext], EvalSource]
    description: str


class _SyntheticCrops(torch.utils.data.Dataset):
    """A :class:`SyntheticDataset` whose items are :class:`TrainingSample` s (``from_synthetic``)."""

    def __init__(self, dataset: SyntheticDataset) -> None:
        self.dataset = dataset
        self.skipped: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return from_synthetic(self.dataset[index])


def _synthetic(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    opts = {**SYNTHETIC_DEFAULTS, **spec.options}
    config = SyntheticConfig(seed=int(opts["seed"]), length=int(opts["n"]), image_size=ctx.input_size, part=ctx.part,
                             crop_scale=opts.get("crop_scale"))
    return EvalSource("synthetic", ctx.part, _SyntheticCrops(SyntheticDataset(config=config, model=ctx.body_model)))


def _crop(adapter: type, size: int):
    """The adapter's own default ``CropConfig`` (its ``crop=`` default) at crop side ``size``."""
    return dataclasses.replace(inspect.signature(adapter).parameters["crop"].default, size=size)


def _ehf(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    ds = EHFDataset(spec.path, crop=_crop(EHFDataset, ctx.input_size))
    return EvalSource("ehf", "body", ds, gt_vertices=ds.vertices)


def _freihand(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    return EvalSource("freihand", "hand", FreiHandDataset(spec.path, crop=_crop(FreiHandDataset, ctx.input_size)))


def _h36m(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    ds = Human36MDataset(spec.path, subjects=(9, 11), frame_stride=64, crop=_crop(Human36MDataset, ctx.input_size))
    return EvalSource("h36m", "body", ds)


def _adapter(module: str, name: str):
    """``robosmplx_core.data.datasets.<module>.<name>``, imported when used, so that an adapter
    that fails to import only disables its own ``--data`` name (a ``ValueError`` saying so)."""
    try:
        return getattr(importlib.import_module(f"robosmplx_core.data.datasets.{module}"), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"the dataset adapter robosmplx_core/data/datasets/{module}.py ({name}) cannot be used: "
                         f"{exc}; fix that module, or evaluate on another set") from None


def _agora(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    cls = _adapter("agora", "AgoraDataset")
    return EvalSource("agora", ctx.part, cls(spec.path, split="validation", part=ctx.part,
                                             crop=_crop(cls, ctx.input_size)))


def _threedpw(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    cls = _adapter("threedpw", "ThreeDPWDataset")
    return EvalSource("3dpw", "body", cls(spec.path, split="test", crop=_crop(cls, ctx.input_size)))


def _stirling(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    cls = _adapter("stirling", "StirlingDataset")
    landmark_joints = tuple(_adapter("stirling", "STIRLING_LANDMARK_FACE_INDICES"))
    ds = cls(spec.path, crop=_crop(cls, ctx.input_size))

    def scan(index: int) -> Optional[ScanTruth]:
        s = ds.scan(index)  # metres, the scan's frame; None when unreadable (counted in ds.skipped)
        if s is None:
            return None
        return ScanTruth(points=torch.as_tensor(s.vertices[s.evaluation_mask()], dtype=torch.float64),
                         landmarks=torch.as_tensor(s.landmarks, dtype=torch.float64), landmark_joints=landmark_joints)

    return EvalSource("stirling", "face", ds, gt_scan=scan)


DATASETS: dict[str, DatasetEntry] = {
    "synthetic": DatasetEntry(None, False, _synthetic, "rendered SMPL-X crops (options seed=, n=, crop_scale=)"),
    "ehf": DatasetEntry("body", True, _ehf, "EHF folder (body; GT meshes)"),
    "agora": DatasetEntry(None, True, _agora, "AGORA validation export (any part; 3D joints)"),
    "3dpw": DatasetEntry("body", True, _threedpw, "3DPW test split (body; 3D joints)"),
    "freihand": DatasetEntry("hand", True, _freihand, "FreiHAND folder (hand; 3D joints)"),
    "stirling": DatasetEntry("face", True, _stirling, "Stirling/ESRC FG2018 (face; 3D scans, 3DRMSE)"),
    "h36m": DatasetEntry("body", True, _h36m, "Human3.6M folder (body; protocol 2 test subjects)"),
}


def _parse_options(name: str, text: str) -> dict[str, float]:
    allowed = ("seed", "n", "crop_scale")
    out: dict[str, float] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in allowed:
            raise ValueError(f"--data {name}: bad option {item!r}; expected key=value with key in {allowed}, "
                             "e.g. synthetic:seed=1000,n=200")
        try:
            out[key] = float(value) if key == "crop_scale" else int(value)
        except ValueError:
            raise ValueError(f"--data {name}: option {key} needs a number, got {value!r}") from None
    if out.get("n", 1) < 1:
        raise ValueError(f"--data {name}: n must be >= 1, got {out['n']}")
    return out


def parse_data_spec(text: str) -> DataSpec:
    """``NAME:PATH`` (or ``synthetic[:key=value,...]``) -> :class:`DataSpec`.

    Raises:
        ValueError: unknown name (lists the valid ones), missing path, bad synthetic options.
    """
    name, _, rest = text.partition(":")
    name = name.strip().lower()
    if name not in DATASETS:
        raise ValueError(f"--data {text!r}: unknown dataset {name!r}; expected NAME:PATH with NAME one of "
                         f"{sorted(DATASETS)}, e.g. ehf:/data/EHF or synthetic:seed=1000,n=200")
    if not DATASETS[name].needs_path:
        return DataSpec(name, None, _parse_options(name, rest), text)
    if not rest.strip():
        raise ValueError(f"--data {text!r}: {name} needs the dataset folder, e.g. {name}:/data/{name}")
    return DataSpec(name, Path(rest.strip()).expanduser(), {}, text)


def datasets_for(part: str) -> list[str]:
    """The ``--data`` names that give ``part`` samples, sorted."""
    return sorted(k for k, e in DATASETS.items() if e.part in (None, part))


def check_part(spec: DataSpec, part: str, *, network: Optional[str] = None) -> None:
    """Raise ``ValueError`` if the dataset's crops are not of ``part`` (what the checkpoint reads);
    ``network`` names the checkpoint in the message (default: "a <part> subnetwork")."""
    want = DATASETS[spec.name].part
    if want is not None and want != part:
        raise ValueError(f"--data {spec.text}: {spec.name} gives {want} crops but the checkpoint is "
                         f"{network or f'a {part} subnetwork'}; use a {part} dataset: {datasets_for(part)}")


def build_source(spec: DataSpec, ctx: EvalContext) -> EvalSource:
    """The evaluation set of ``spec`` at the checkpoint's part and crop size (see module doc)."""
    if ctx.part not in PART_NAMES:
        raise ValueError(f"build_source: part must be one of {PART_NAMES}, got {ctx.part!r}")
    check_part(spec, ctx.part)
    return DATASETS[spec.name].build(spec, ctx)


def iter_items(source: EvalSource, max_samples: Optional[int] = None) -> Iterator[EvalItem]:
    """The first ``max_samples`` (all when None) samples of ``source`` as :class:`EvalItem` s."""
    for i in range(source_length(source, max_samples)):
        sample = source.dataset[i]
        verts = None
        if source.gt_vertices is not None:
            verts = torch.as_tensor(np.asarray(source.gt_vertices(sample.index)), dtype=torch.float32)
        scan = source.gt_scan(sample.index) if source.gt_scan is not None else None
        yield EvalItem(sample=sample, gt_vertices=verts, gt_scan=scan)


def source_length(source: EvalSource, max_samples: Optional[int] = None) -> int:
    """How many items :func:`iter_items` yields."""
    return len(source.dataset) if max_samples is None else min(len(source.dataset), max_samples)
