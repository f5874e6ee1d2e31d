"""GPU smoke test (issue 6): training steps with AMP on CUDA, through the real trainer.

Skipped without CUDA (this project's CI and dev machines have none). Where a GPU exists:
`.venv/bin/python -m pytest tests/gpu -q -s` trains the synthetic body configuration for a few
steps with float16 autocast + GradScaler (and the whole-body configuration for two), checks the
loss is finite and the weights moved, and
writes the measured steps/s to ``out/benchmarks/gpu_smoke.json`` (recorded in the README; the
test never asserts on speed). Samples are rendered on the CPU in-process (``num_workers=0``), so
the steps/s is the end-to-end rate of a small run, not the network's peak.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch

from training.config import load_train_config
from training.trainer import train

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "training" / "configs" / "synthetic_body.yaml"
WHOLEBODY = ROOT / "training" / "configs" / "synthetic_wholebody.yaml"

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (no GPU on this machine)")


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(str(folder / "weights.safetensors"))


def test_amp_training_steps_on_cuda(tmp_path) -> None:
    common = ["device=cuda", "amp=true", "num_workers=0", "data.val_size=0", "log_every=1", "data.train.length=64"]
    first = train(load_train_config(CONFIG, [*common, "steps=1", f"out_dir={tmp_path / 'one'}"]), progress=False)
    assert first.steps == 1 and all(torch.isfinite(torch.tensor(first.losses)))
    start = time.perf_counter()
    run = train(load_train_config(CONFIG, [*common, "steps=6", f"out_dir={tmp_path / 'six'}"]), progress=False)
    seconds = time.perf_counter() - start
    assert run.steps == 6 and all(torch.isfinite(torch.tensor(run.losses)))
    a, b = _weights(first.last_checkpoint), _weights(run.last_checkpoint)
    moved = [k for k in a if not k.startswith("extra_state.") and a[k].is_floating_point() and not torch.equal(a[k], b[k])]
    assert moved, "six AMP steps left every network weight where one step put it"
    report = {"benchmark": "gpu_smoke", "device": torch.cuda.get_device_name(0), "steps": 6,
              "seconds_including_setup": round(seconds, 2), "steps_per_s": round(6 / seconds, 3),
              "loss_first": run.losses[0], "loss_last": run.losses[-1]}
    out = ROOT / "out" / "benchmarks" / "gpu_smoke.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


def test_amp_wholebody_steps_on_cuda(tmp_path) -> None:
    """The whole-body network's nested outputs through autocast, DDP-ready float32 casting and
    its objective on CUDA."""
    run = train(load_train_config(WHOLEBODY, ["device=cuda", "amp=true", "num_workers=0", "data.val_size=2",
                                              "data.train.length=16", "data.preload=false", "steps=2", "val_every=2",
                                              f"out_dir={tmp_path / 'wb'}"]), progress=False)
    assert run.steps == 2 and all(torch.isfinite(torch.tensor(run.losses)))
    assert run.validations and run.validations[-1]["mpjpe_mm"] > 0
