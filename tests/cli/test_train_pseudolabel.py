"""Issue 6: `robosmplx pseudolabel` on the sample video makes a dataset that `robosmplx train`
accepts: the real labelling command, then the real training command on its output (a tiny
network, 3 steps), then a fine-tuning run started from that checkpoint (`init=`)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
import safetensors.torch
import torch

from robosmplx_core.cli import main
from robosmplx_core.media import media_dir
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "training" / "configs" / "pseudolabel_body.yaml"
VTEST = media_dir() / "vtest.avi"
pytestmark = pytest.mark.skipif(not VTEST.is_file(), reason=f"sample media {VTEST} absent: run `make setup`")
TINY = [f"network.{k}={v}" for k, v in TINY_SUBNET_KWARGS.items()] + [
    "data.train.image_size=64", "objective.render_size=16", "batch_pairs=2", "num_workers=0", "log_every=1",
    "schedule.warmup_steps=1", "data.mean_init_samples=4",
]  # fmt: skip


def _train(args: list[str]) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", str(CONFIG), *TINY, *args, "--quiet"])
    return code, printed.getvalue()


def test_pseudolabels_of_the_sample_video_train(tmp_path) -> None:
    data = tmp_path / "pl"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["pseudolabel", str(VTEST), "--out", str(data), "--max-frames", "8", "--quiet"]) == 0
    run = tmp_path / "run"
    code, printed = _train([f"data.path={data}", "steps=3", f"out_dir={run}"])
    assert code == 0, printed
    ckpt = run / "checkpoints" / "step_000003"
    assert "train: 3 steps ->" in printed and (ckpt / "weights.safetensors").is_file(), printed
    assert "data: 0 training entries skipped" in printed
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train = [x for x in lines if x["split"] == "train"]
    assert [x["step"] for x in train] == [1, 2, 3]
    for x in train:
        assert math.isfinite(x["loss"]) and x["loss"] > 0 and x["skipped_entries"] == 0
        # pseudo-labels: 2D landmarks and fitted rotations / betas; no 3D, segmentation or mask
        assert x["keypoints_2d"] > 0 and x["bm_rotations"] > 0 and x["bm_betas"] > 0, x
        assert x["keypoints_3d"] == x["contrastive"] == x["segmentation"] == x["projection"] == 0.0, x
    # fine-tuning from that checkpoint (another seed: another random init): starts from its weights
    tuned = tmp_path / "tuned"
    code, printed = _train([f"data.path={data}", "steps=1", f"out_dir={tuned}", f"init={ckpt}", "seed=1",
                            "optimizer.lr=1e-12", "schedule.warmup_start_ratio=1.0"])
    assert code == 0, printed
    before = safetensors.torch.load_file(str(ckpt / "weights.safetensors"))
    after = safetensors.torch.load_file(str(tuned / "checkpoints" / "step_000001" / "weights.safetensors"))
    names = [k for k in before if not k.startswith("extra_state") and "running_" not in k and "num_batches" not in k]
    assert len(names) > 20
    for name in names:  # moved by lr 1e-12 only (BatchNorm statistics excluded: they follow the batch)
        torch.testing.assert_close(after[name], before[name], atol=1e-6, rtol=0, msg=name)
