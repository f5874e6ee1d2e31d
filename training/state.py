"""Resumable training checkpoints without pickle.

A training checkpoint is a network checkpoint folder (``robosmplx_core.nets.checkpoint``:
``weights.safetensors``, ``network.yaml``, ``meta.json``) plus:

- ``extra_state.*`` tensors in ``weights.safetensors``: every tensor of the optimizer, LR
  scheduler, GradScaler and RNG states, named by their path (``optimizer.state.3.exp_avg``);
- ``train_state.json``: the rest of those states (numbers, strings, the nesting), with
  ``{"__tensor__": name}`` where a tensor was, plus the step and the best validation result;
- ``train.yaml``: the resolved :class:`~training.config.TrainConfig` of the run.

The folder is written under a temporary name and renamed, so a ``step_XXXXXX`` folder is
always complete. Loading reads JSON and safetensors only (no ``torch.load``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch

from robosmplx_core.config import save_config
from robosmplx_core.nets.checkpoint import load_checkpoint, save_checkpoint
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.wholebody import WholeBodyNetwork
from training.config import TrainConfig

STATE_FILE = "train_state.json"
CONFIG_FILE = "train.yaml"
STATE_FORMAT = 1
_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"


def flatten_state(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """A JSON-able copy of ``obj`` (nested dicts / lists / tuples / numbers / strings / tensors);
    each tensor goes into ``tensors`` under its dotted path and is replaced by a reference.

    Raises:
        TypeError: a value of another type (name and path given).
    """
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {_TENSOR: prefix}
    if isinstance(obj, dict):  # keys may be ints (Adam's parameter ids): keep their type
        return {_DICT: [[k, flatten_state(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [flatten_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {_TUPLE: items}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"flatten_state: {prefix}: cannot store a {type(obj).__name__}; only tensors, numbers, "
                    "strings and dicts / lists / tuples of them")


def unflatten_state(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`.

    Raises:
        ValueError: a referenced tensor is missing.
    """
    if isinstance(obj, dict):
        if _TENSOR in obj:
            name = obj[_TENSOR]
            if name not in tensors:
                raise ValueError(f"training checkpoint: tensor {name!r} named in {STATE_FILE} is missing from the "
                                 "weights file; the checkpoint is damaged: resume from another step_* folder")
            return tensors[name]
        if _TUPLE in obj:
            return tuple(unflatten_state(v, tensors) for v in obj[_TUPLE])
        return {k: unflatten_state(v, tensors) for k, v in obj[_DICT]}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


def capture_rng() -> dict[str, Any]:
    """torch (CPU and every CUDA device), numpy and Python ``random`` generator states."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64),
                   "gauss_next": gauss_next},
    }


def restore_rng(state: Mapping[str, Any]) -> None:
    """Set the generators to a :func:`capture_rng` state (CUDA states only if the device count matches)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(x) for x in p["internal"].tolist()), p["gauss_next"]))


@dataclass(frozen=True)
class TrainState:
    """What a training checkpoint holds besides the network.

    step: optimizer steps done.
    optimizer, scheduler: ``state_dict()`` of the Adam optimizer and the LR scheduler.
    scaler: ``GradScaler.state_dict()`` (empty when AMP is off).
    rng: :func:`capture_rng` of the process that wrote it.
    best: ``{"mpjpe_mm": float, "step": int}`` of the best validation so far, or None.
    """

    step: int
    optimizer: dict
    scheduler: dict
    scaler: dict
    rng: dict
    best: Optional[dict] = None


def _kind(config: TrainConfig) -> str:
    """The checkpoint ``meta.kind`` a run of ``config`` writes."""
    return "wholebody" if config.stage == "wholebody" else f"subnet:{config.stage}"


def save_train_checkpoint(folder: str | Path, *, network: PartSubnetwork | WholeBodyNetwork, config: TrainConfig,
                          state: TrainState) -> Path:
    """Write a complete training checkpoint into ``folder`` (replaced if present); returns it."""
    out = Path(folder)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = {name: flatten_state(getattr(state, name), name, tensors)
                for name in ("optimizer", "scheduler", "scaler", "rng")}
    part = None if config.stage == "wholebody" else config.stage
    save_checkpoint(tmp, network=network, config=config.network_config, part=part, extra_state=tensors)
    doc = {"format_version": STATE_FORMAT, "step": state.step, "best": state.best, **skeleton}
    (tmp / STATE_FILE).write_text(json.dumps(doc) + "\n")
    save_config(config, tmp / CONFIG_FILE)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def _section(config: TrainConfig, field_name: str) -> str:
    """The config key of an architecture field: ``network.*`` (the whole-body network's body
    too) or ``wholebody.*``."""
    if config.stage != "wholebody":
        return f"network.{field_name}"
    return "network" if field_name == "body" else f"wholebody.{field_name}"


def _differences(a: Any, b: Any) -> list[str]:
    return [f.name for f in fields(a) if getattr(a, f.name) != getattr(b, f.name)]


def load_train_checkpoint(folder: str | Path, *, config: TrainConfig) -> tuple[dict[str, torch.Tensor], TrainState]:
    """The network ``state_dict`` and :class:`TrainState` of a training checkpoint.

    Raises:
        FileNotFoundError: not a checkpoint folder, or one without ``train_state.json`` (a
            network-only checkpoint cannot resume a run).
        ValueError: the checkpoint's network or stage differs from ``config`` (fields named).
    """
    path = Path(folder)
    ckpt = load_checkpoint(path)  # checks meta, network.yaml and the weights against each other
    if ckpt.meta.kind != _kind(config):
        raise ValueError(f"resume={path}: the checkpoint holds a {ckpt.meta.kind!r} network but this run trains "
                         f"stage {config.stage!r}; resume from a checkpoint of the same stage")
    mine = config.network_config
    if ckpt.config != mine:
        diff = ", ".join(f"{_section(config, k)}: {getattr(ckpt.config, k)!r} (checkpoint) vs {getattr(mine, k)!r}"
                         for k in _differences(ckpt.config, mine))
        raise ValueError(f"resume={path}: the checkpoint is of a different architecture ({diff}); set the network "
                         f"section to the checkpoint's: its {CONFIG_FILE} is the run's whole config (robosmplx train "
                         f"{path / CONFIG_FILE} resume={path}), or start a new run with resume=null")
    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise FileNotFoundError(f"resume={path}: no {STATE_FILE} (a network-only checkpoint); resume from a "
                                "checkpoints/step_XXXXXX folder written by the trainer")
    doc = json.loads(state_file.read_text())
    if doc.get("format_version") != STATE_FORMAT:
        raise ValueError(f"{state_file}: unknown format version {doc.get('format_version')!r}; expected {STATE_FORMAT}")
    extra = ckpt.extra_state
    parts = {name: unflatten_state(doc[name], extra) for name in ("optimizer", "scheduler", "scaler", "rng")}
    return ckpt.network.state_dict(), TrainState(step=int(doc["step"]), best=doc.get("best"), **parts)


def link_or_copy_tree(src: str | Path, dst: str | Path) -> Path:
    """Replace ``dst`` by a copy of the folder ``src`` made of hard links where the file system
    allows (checkpoint files are only ever replaced, never modified, so links are safe)."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, tmp, copy_function=link)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    return dst
