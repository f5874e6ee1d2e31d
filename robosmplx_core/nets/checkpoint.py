"""Network checkpoints: a folder that rebuilds the architecture and loads its weights safely.

    save_checkpoint(run_dir / "ckpt", network=net, config=network_config)
    net = load_network(run_dir / "ckpt", device="cuda:0")          # eval mode
    ckpt = load_checkpoint(run_dir / "ckpt")                         # + config, meta, extra_state

A checkpoint folder holds three files:

- ``weights.safetensors``: the network's ``state_dict`` (safetensors, never pickle), plus the
  caller's ``extra_state`` tensors under the ``extra_state.`` prefix (e.g. a step counter);
- ``network.yaml``: the resolved network config (``NetworkConfig`` for a whole-body network,
  ``SubnetConfig`` for one subnetwork), from which the architecture is rebuilt;
- ``meta.json``: ``{"format_version": 1, "kind": "wholebody" | "subnet:body" | "subnet:hand" |
  "subnet:face", "part_only": bool}``. It is written last, so a folder whose writing was
  interrupted has no ``meta.json`` and is refused.

Loading builds the architecture from ``network.yaml`` and refuses weights whose tensor names or
shapes differ from it (the message lists a few and says the weights come from a different
architecture). Saving checks that ``config`` describes ``network`` (built on the ``meta``
device, no memory), so every checkpoint written can be loaded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Union

import safetensors
import safetensors.torch
import torch
from torch import nn

from robosmplx_core.config import config_to_yaml, load_config
from robosmplx_core.nets.config import NetworkConfig, SubnetConfig
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.wholebody import WholeBodyNetwork

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "network.yaml"
META_FILE = "meta.json"
CHECKPOINT_FILES = (WEIGHTS_FILE, CONFIG_FILE, META_FILE)
EXTRA_PREFIX = "extra_state."
_LISTED = 4  # names shown per kind of mismatch

Network = Union[WholeBodyNetwork, PartSubnetwork]
NetConfig = Union[NetworkConfig, SubnetConfig]
_SCHEMAS: dict[str, type] = {"wholebody": NetworkConfig, "subnet": SubnetConfig}  # kind family -> config
_HOW_TO_GET = ("save one after training with robosmplx_core.nets.checkpoint.save_checkpoint(dir, network=..., "
               "config=...) (no pretrained RoboSMPLX weights exist; train your own)")  # fmt: skip


@dataclass(frozen=True)
class CheckpointMeta:
    """Contents of ``meta.json``.

    format_version: layout version of the folder (this code reads up to ``FORMAT_VERSION``).
    kind: "wholebody", or "subnet:<part>" with part "body" | "hand" | "face".
    part_only: subnetworks only: built with the part-only branches (``PartSubnetwork(part_only=True)``).
    """

    format_version: int
    kind: str
    part_only: bool = False

    def __post_init__(self) -> None:
        family, _, part = self.kind.partition(":")
        if family not in _SCHEMAS or (family == "subnet") != bool(part):
            raise ValueError(f"{META_FILE}: unknown kind {self.kind!r}; expected 'wholebody' or "
                             "'subnet:body' / 'subnet:hand' / 'subnet:face'")  # fmt: skip
        if part:
            part_spec(part)  # raises for unknown parts

    @property
    def family(self) -> str:
        """"wholebody" or "subnet"."""
        return self.kind.partition(":")[0]

    @property
    def part(self) -> Optional[str]:
        """The subnetwork's part name, None for a whole-body network."""
        return self.kind.partition(":")[2] or None


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Fields:
        network: the rebuilt network with its weights, in eval mode, on the requested device.
        config: the network config it was rebuilt from (``NetworkConfig`` or ``SubnetConfig``).
        meta: the folder's ``meta.json``.
        extra_state: the ``extra_state`` tensors given to :func:`save_checkpoint` (CPU).
        path: the checkpoint folder.
    """

    network: Network
    config: NetConfig
    meta: CheckpointMeta
    extra_state: dict[str, torch.Tensor] = field(default_factory=dict)
    path: Path = Path(".")


def _build(meta: CheckpointMeta, config: NetConfig) -> Network:
    if meta.family == "wholebody":
        return WholeBodyNetwork.from_config(config)
    return PartSubnetwork.from_config(part_spec(meta.part), config, part_only=meta.part_only)


def _meta_for(network: nn.Module, config: NetConfig, part: Optional[str]) -> CheckpointMeta:
    """The meta of ``network``, after checking that ``config`` is the right kind of config."""
    if isinstance(network, WholeBodyNetwork):
        if not isinstance(config, NetworkConfig):
            raise ValueError(f"save_checkpoint: a WholeBodyNetwork needs its NetworkConfig, got "
                             f"{type(config).__name__}")  # fmt: skip
        if part is not None:
            raise ValueError("save_checkpoint: part is only for a PartSubnetwork; drop part= for a WholeBodyNetwork")
        return CheckpointMeta(FORMAT_VERSION, "wholebody")
    if isinstance(network, PartSubnetwork):
        if not isinstance(config, SubnetConfig):
            raise ValueError(f"save_checkpoint: a PartSubnetwork needs its SubnetConfig, got {type(config).__name__}")
        if part is not None and part != network.spec.name:
            raise ValueError(f"save_checkpoint: part={part!r} but the network was built with the "
                             f"{network.spec.name!r} spec")  # fmt: skip
        return CheckpointMeta(FORMAT_VERSION, f"subnet:{network.spec.name}", part_only=bool(network.part_only))
    raise TypeError(f"save_checkpoint: expected a WholeBodyNetwork or PartSubnetwork, got {type(network).__name__}")


def _shapes(tensors: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in tensors.items()}


def _mismatch(expected: Mapping[str, tuple[int, ...]], got: Mapping[str, tuple[int, ...]]) -> Optional[str]:
    """None when names and shapes agree, else a short description of the differences."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [f"{k} {got[k]} vs {expected[k]}" for k in expected if k in got and got[k] != expected[k]]
    if not (missing or unexpected or shapes):
        return None

    def listed(label: str, names: list[str]) -> str:
        more = f" (+{len(names) - _LISTED} more)" if len(names) > _LISTED else ""
        return f"{len(names)} {label}: {', '.join(names[:_LISTED])}{more}"

    groups = [("missing", missing), ("unexpected", unexpected), ("with another shape (file vs architecture)", shapes)]
    return "; ".join(listed(label, names) for label, names in groups if names)


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(
    path_dir: str | Path, *, network: Network, config: NetConfig, part: Optional[str] = None,
    extra_state: Optional[Mapping[str, torch.Tensor]] = None,
) -> Path:  # fmt: skip
    """Write ``network``'s weights, its config and ``meta.json`` into the folder ``path_dir``.

    Args:
        path_dir: checkpoint folder (created; files of an earlier checkpoint are replaced).
        network: a ``WholeBodyNetwork`` or a ``PartSubnetwork`` (any device, train or eval mode).
        config: the config it was built from: ``NetworkConfig`` (whole body) or ``SubnetConfig``
            (subnetwork; the part and ``part_only`` come from the network).
        part: optional, subnetworks only: "body" | "hand" | "face", checked against the network.
        extra_state: tensors to keep beside the weights (names without the ``extra_state.``
            prefix; returned by :func:`load_checkpoint`).

    Returns:
        The folder.

    Raises:
        ValueError: ``config`` does not describe ``network`` (lists the differences), or the
            wrong kind of config / part.
    """
    meta = _meta_for(network, config, part)
    with torch.device("meta"):  # the architecture the loader will build, without memory
        expected = _shapes(_build(meta, config).state_dict())
    state = network.state_dict()
    problem = _mismatch(expected, _shapes(state))
    if problem:
        raise ValueError(f"save_checkpoint: config does not describe this network ({problem}); pass the "
                         "config the network was built from")  # fmt: skip
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}
    for name, value in (extra_state or {}).items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"save_checkpoint: extra_state[{name!r}]: expected a torch.Tensor, got "
                             f"{type(value).__name__}; store numbers as torch.tensor(x)")  # fmt: skip
        tensors[EXTRA_PREFIX + name] = value.detach().to("cpu", copy=True).contiguous()
    out = Path(path_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)  # the folder is incomplete until meta.json is back
    _write_atomic(out / WEIGHTS_FILE, lambda p: safetensors.torch.save_file(
        tensors, str(p), metadata={"format_version": str(FORMAT_VERSION), "kind": meta.kind}))
    _write_atomic(out / CONFIG_FILE, lambda p: p.write_text(config_to_yaml(config)))
    text = json.dumps({"format_version": meta.format_version, "kind": meta.kind, "part_only": meta.part_only},
                      indent=2) + "\n"  # fmt: skip
    _write_atomic(out / META_FILE, lambda p: p.write_text(text))
    return out


def _check_folder(path: Path) -> None:
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint folder {path} does not exist (or is not a folder); {_HOW_TO_GET}")
    missing = [name for name in CHECKPOINT_FILES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(f"checkpoint folder {path} lacks {', '.join(missing)} (a checkpoint holds "
                                f"{', '.join(CHECKPOINT_FILES)}); {_HOW_TO_GET}")  # fmt: skip


def read_meta(path_dir: str | Path) -> CheckpointMeta:
    """The ``meta.json`` of a checkpoint folder, without loading anything else.

    Raises:
        FileNotFoundError: the folder or one of its three files is missing (named).
        ValueError: unreadable JSON, a format version newer than this code, or an unknown kind.
    """
    path = Path(path_dir)
    _check_folder(path)
    try:
        raw = json.loads((path / META_FILE).read_text())
        version, kind, part_only = int(raw["format_version"]), str(raw["kind"]), bool(raw.get("part_only", False))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path / META_FILE}: not a robosmplx checkpoint meta file ({exc!r}); expected JSON "
                         "with format_version and kind; re-save the checkpoint") from None  # fmt: skip
    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"{path / META_FILE}: unknown checkpoint format version {version}; this robosmplx reads "
                         f"versions 1..{FORMAT_VERSION}: upgrade robosmplx, or re-save the checkpoint with this "
                         "version's save_checkpoint")  # fmt: skip
    try:
        return CheckpointMeta(version, kind, part_only)
    except ValueError as exc:
        raise ValueError(f"{path / META_FILE}: {exc}") from None


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load_file(str(path), device="cpu")
    except (safetensors.SafetensorError, OSError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc}); the file is truncated or was "
                         "modified: copy the checkpoint again or re-save it") from None  # fmt: skip


def load_checkpoint(path_dir: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the network described by ``network.yaml`` and load ``weights.safetensors`` into it.

    Args:
        path_dir: a folder written by :func:`save_checkpoint`.
        device: where the network goes (e.g. "cpu", "cuda:0").

    Returns:
        The :class:`Checkpoint`; its network is in eval mode.

    Raises:
        FileNotFoundError: the folder or one of its files is missing (named, with how to get one).
        ValueError: unknown format version or kind, an invalid ``network.yaml``, an unreadable
            weights file, or weights from a different architecture (a few names listed).
    """
    path = Path(path_dir)
    meta = read_meta(path)
    config = load_config(path / CONFIG_FILE, schema=_SCHEMAS[meta.family])
    network = _build(meta, config)
    tensors = _read_weights(path / WEIGHTS_FILE)
    extra = {k[len(EXTRA_PREFIX):]: v.clone() for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    weights = {k: v for k, v in tensors.items() if not k.startswith(EXTRA_PREFIX)}
    problem = _mismatch(_shapes(network.state_dict()), _shapes(weights))
    if problem:
        raise ValueError(f"checkpoint {path}: {WEIGHTS_FILE} does not match the {meta.kind} architecture of "
                         f"{CONFIG_FILE} ({problem}); the weights come from a different architecture: keep "
                         "each weights file with the network.yaml it was saved with, or re-save the "
                         "checkpoint")  # fmt: skip
    network.load_state_dict(weights, strict=True)
    return Checkpoint(network=network.to(device).eval(), config=config, meta=meta, extra_state=extra, path=path)


def load_network(path_dir: str | Path, *, device: str | torch.device = "cpu") -> Network:
    """The network of a checkpoint folder, in eval mode on ``device`` (see :func:`load_checkpoint`)."""
    return load_checkpoint(path_dir, device=device).network
