"""The trainer: resume = uninterrupted run, torchrun DDP = one process, clear errors, CLI verb.

Tiny runs: the TINY subnetwork at 64 px, 2 pairs (4 images) per step, samples rendered on the
fly in-process (num_workers=0).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch

from robosmplx_core.cli import main as cli_main
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from training.config import load_train_config
from training.state import STATE_FILE
from training.trainer import train

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "training" / "configs" / "synthetic_body.yaml"
TINY = [f"network.{k}={v}" for k, v in TINY_SUBNET_KWARGS.items()] + [
    "data.train.image_size=64", "objective.render_size=16", "data.train.length=16", "data.preload=false",
    "data.val_size=0", "batch_pairs=2", "num_workers=0", "log_every=1", "schedule.warmup_steps=1",
]  # fmt: skip


def tiny(tmp: Path, *extra: str):
    return load_train_config(CONFIG, [*TINY, f"out_dir={tmp}", *extra])


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(str(folder / "weights.safetensors"))


def assert_close_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], *, atol: float, names=None) -> None:
    assert a.keys() == b.keys()
    for name in names or a:
        torch.testing.assert_close(a[name].double(), b[name].double(), atol=atol, rtol=1e-4, msg=name)


def test_resume_matches_uninterrupted_run(tmp_path) -> None:
    """Train 2N steps vs N + resume + N: same weights, optimizer state and loss curve."""
    full = train(tiny(tmp_path / "full", "steps=4", "val_every=2"), progress=False)
    assert full.steps == 4 and len(full.losses) == 4
    step2 = tmp_path / "full" / "checkpoints" / "step_000002"
    assert (step2 / STATE_FILE).is_file() and (step2 / "train.yaml").is_file()
    resumed = train(tiny(tmp_path / "resumed", "steps=4", "val_every=2", f"resume={step2}"), progress=False)
    assert resumed.steps == 4 and len(resumed.losses) == 2
    torch.testing.assert_close(torch.tensor(resumed.losses), torch.tensor(full.losses[2:]), rtol=1e-5, atol=1e-6)
    a, b = weights(full.last_checkpoint), weights(resumed.last_checkpoint)
    assert any(k.startswith("extra_state.optimizer.state.") and k.endswith("exp_avg_sq") for k in a)
    assert_close_tensors(a, b, atol=1e-6, names=[k for k in a if not k.startswith("extra_state.rng")])
    state = json.loads((resumed.last_checkpoint / STATE_FILE).read_text())
    assert state["step"] == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_match_one(tmp_path) -> None:
    """2 gloo processes with N/2 pairs each = 1 process with N pairs in 2 micro-batches (the same
    per-process BatchNorm statistics); close to 1 process with N pairs in one batch."""
    extra = ["steps=3", "val_every=3", "batch_pairs=4"]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "training.train", str(CONFIG), *TINY,
           *extra, f"out_dir={tmp_path / 'ddp'}", "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    ddp_losses = torch.tensor([x["loss"] for x in lines if x["split"] == "train"])
    one = train(tiny(tmp_path / "one", *extra, "accumulate=2"), progress=False)
    torch.testing.assert_close(ddp_losses, torch.tensor(one.losses), rtol=1e-4, atol=1e-5)
    a, b = weights(tmp_path / "ddp" / "checkpoints" / "step_000003"), weights(one.last_checkpoint)
    params = [k for k in a if not k.startswith("extra_state") and "running_" not in k and "num_batches" not in k]
    assert_close_tensors(a, b, atol=1e-4, names=params)
    plain = train(tiny(tmp_path / "plain", *extra), progress=False)  # BatchNorm over all 8 images
    torch.testing.assert_close(ddp_losses, torch.tensor(plain.losses), rtol=0.05, atol=0.0)


def test_resume_other_architecture_is_a_clear_error(tmp_path) -> None:
    run = train(tiny(tmp_path / "a", "steps=1", "val_every=1"), progress=False)
    with pytest.raises(ValueError, match=r"different architecture \(network.hidden_channels: 32 \(checkpoint\) vs 48"):
        train(tiny(tmp_path / "b", "steps=2", "network.hidden_channels=48", f"resume={run.last_checkpoint}"),
              progress=False)


def test_config_errors_say_how_to_fix() -> None:
    with pytest.raises(ValueError, match=r"unknown config key 'optimizer.learning_rate'; valid keys here: lr, "
                                         r"weight_decay, betas"):
        load_train_config(CONFIG, ["optimizer.learning_rate=1"])
    with pytest.raises(ValueError, match=r"stage wholebody: objective.weights.segmentation and .contrastive must be 0"):
        load_train_config(CONFIG, ["stage=wholebody"])
    with pytest.raises(ValueError, match=r"data.train.part \('body'\) must be 'hand' for stage 'hand'; set data.train.part=hand"):
        load_train_config(CONFIG, ["stage=hand"])
    with pytest.raises(ValueError, match=r"set exactly one of steps and epochs"):
        load_train_config(CONFIG, ["epochs=2"])
    with pytest.raises(ValueError, match=r"data.train.image_size \(64\) must equal the network's input size \(128"):
        load_train_config(CONFIG, ["data.train.image_size=64"])
    assert load_train_config(ROOT / "training" / "configs" / "body.yaml").network.backbone == "resnet50"


def test_cli_verb_trains_and_writes_checkpoint(tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    code = cli_main(["train", str(CONFIG), *TINY, "steps=2", "val_every=0", "data.val_size=2", f"out_dir={out}",
                     "--quiet"])
    assert code == 0
    ckpt = out / "checkpoints" / "step_000002"
    assert {p.name for p in ckpt.iterdir()} >= {"weights.safetensors", "network.yaml", "meta.json", STATE_FILE,
                                                "train.yaml"}
    assert (out / "checkpoints" / "best" / "meta.json").is_file()
    assert "train: 2 steps ->" in capsys.readouterr().out
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_trainer_trains_the_keypoint_stage_with_everything_else(tmp_path) -> None:
    """``network.keypoint_joints=25``: the heatmap term is logged (weighted) beside the volume
    term, and the checkpoint rebuilds the network with its keypoint head."""
    import json

    from robosmplx_core.nets.checkpoint import load_network

    out = tmp_path / "kp"
    code = cli_main(["train", str(CONFIG), *TINY, "network.keypoint_joints=25", "steps=2", "val_every=0",
                     f"out_dir={out}", "--quiet"])
    assert code == 0
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train_lines = [x for x in lines if x["split"] == "train"]
    assert len(train_lines) == 2 and all(x["heatmap_keypoints"] > 0 and x["volume_keypoints"] > 0
                                         for x in train_lines), train_lines
    net = load_network(out / "checkpoints" / "step_000002")
    assert net.keypoint_head is not None and net.keypoint_head.num_keypoints == 25


def test_trainer_trains_the_facing_branch(tmp_path) -> None:
    """``network.facing_head=true``: the facing term is logged and the checkpoint rebuilds the
    network with its facing branch."""
    import json

    from robosmplx_core.nets.checkpoint import load_network

    out = tmp_path / "facing"
    code = cli_main(["train", str(CONFIG), *TINY, "network.keypoint_joints=25", "network.facing_head=true",
                     "steps=2", "val_every=0", f"out_dir={out}", "--quiet"])
    assert code == 0
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(x["facing"] > 0 for x in lines if x["split"] == "train")
    assert load_network(out / "checkpoints" / "step_000002").facing_head is not None


def test_cli_bad_config_exits_2(tmp_path, capsys) -> None:
    assert cli_main(["train", str(CONFIG), "steps=2", "nope=1", f"out_dir={tmp_path}"]) == 2
    assert "unknown config key 'nope'; valid keys here: stage, body_model" in capsys.readouterr().err
    assert cli_main(["train", str(tmp_path / "missing.yaml")]) == 2


def test_existing_run_folder_needs_resume(tmp_path) -> None:
    (tmp_path / "checkpoints" / "step_000002").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"already holds a run .* resume=.*step_XXXXXX, or pick another out_dir"):
        train(tiny(tmp_path, "steps=1"), progress=False)


def test_a_step_the_grad_scaler_skips_leaves_weights_and_schedule(tmp_path) -> None:
    """An fp16 overflow makes GradScaler skip the optimizer step; the LR schedule must not advance
    then (else PyTorch warns and the schedule counts steps that never happened). CUDA AMP cannot
    run here, so the scaler is torch's CPU GradScaler (the same skip logic) and the loss is made
    non-finite on purpose."""
    from training.data import MicroBatch
    from training.distributed import init_distributed, shutdown
    from training.trainer import Trainer

    env = init_distributed("cpu")
    try:
        trainer = Trainer(tiny(tmp_path, "steps=2"), env, progress=False)
        trainer.scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
        params = [p for p in trainer.net.parameters() if p.requires_grad]
        factor = {"value": float("inf")}
        trainer._micro_loss = lambda batch: (sum(p.sum() for p in params) * factor["value"], {})
        before = [p.detach().clone() for p in params]
        epoch = trainer.scheduler.last_epoch
        trainer._train_step([MicroBatch(batch=None)])
        assert trainer.scaler.get_scale() == 4.0 and trainer.scheduler.last_epoch == epoch
        assert all(torch.equal(a, p) for a, p in zip(before, params))
        factor["value"] = 1e-3  # a finite step moves the weights and the schedule
        trainer._train_step([MicroBatch(batch=None)])
        assert trainer.scheduler.last_epoch == epoch + 1
        assert any(not torch.equal(a, p) for a, p in zip(before, params))
    finally:
        shutdown(env)
