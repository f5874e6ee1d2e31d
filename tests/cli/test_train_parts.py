"""Issue 6: the Hand and Face stages through `robosmplx train` (tiny runs: the stage configs'
light 64 px networks, 2 pairs a step, 3 steps, samples rendered in-process), and the config
errors that pick a stage and its data sources."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest

from robosmplx_core.cli import main
from robosmplx_core.nets.checkpoint import load_network
from training.config import load_train_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "training" / "configs"
TINY = ["steps=3", "data.train.length=8", "data.preload=false", "data.val_size=2", "data.mean_init_samples=4",
        "batch_pairs=2", "val_every=0", "log_every=1", "num_workers=0"]


@pytest.mark.parametrize("part", ["hand", "face"])
def test_part_stage_trains_from_the_cli(tmp_path, part) -> None:
    run = tmp_path / part
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", str(CONFIGS / f"synthetic_{part}.yaml"), *TINY, f"out_dir={run}", "--quiet"])
    assert code == 0, printed.getvalue()
    assert "train: 3 steps ->" in printed.getvalue()
    ckpt = run / "checkpoints" / "step_000003"
    meta = json.loads((ckpt / "meta.json").read_text())
    assert meta["kind"] == f"subnet:{part}" and meta["part_only"] is True
    net = load_network(ckpt)
    assert net.spec.name == part and net.part_only
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train = [x for x in lines if x["split"] == "train"]
    assert [x["step"] for x in train] == [1, 2, 3]
    for x in train:  # synthetic crops: every label present
        assert math.isfinite(x["loss"]) and x["loss"] > 0, x
        assert all(x[k] > 0 for k in ("keypoints_3d", "keypoints_2d", "bm_rotations", "segmentation", "projection",
                                      "contrastive", "volume_keypoints")), x
        assert (x["bm_expression"] > 0) == (part == "face"), x
    (val,) = [x for x in lines if x["split"] == "val"]  # training.part_eval's metrics, mm
    assert val["step"] == 3 and 0 < val["pa_mpjpe_mm"] < val["mpjpe_mm"] < 1000, val


def test_stage_and_source_errors_say_how_to_fix(tmp_path) -> None:
    hand = CONFIGS / "synthetic_hand.yaml"
    with pytest.raises(ValueError, match=r"stage: unknown stage 'foot'; expected one of \('body', 'hand', 'face', "
                                         r"'wholebody'\)"):
        load_train_config(hand, ["stage=foot"])
    with pytest.raises(ValueError, match=r"data.train.part \('hand'\) must be 'body' for stage 'wholebody'"):
        load_train_config(hand, ["stage=wholebody"])
    with pytest.raises(ValueError, match=r"data.train.part \('hand'\) must be 'face' for stage 'face'"):
        load_train_config(hand, ["stage=face"])
    with pytest.raises(ValueError, match=r"data.source=ffhq gives face crops, not hand crops.*use one of "
                                         r"\['synthetic', 'pseudolabel', 'coco_wholebody', 'freihand', 'interhand'\]"):
        load_train_config(hand, ["data.source=ffhq", f"data.path={tmp_path}"])
    with pytest.raises(ValueError, match=r"data.path: data.source=freihand reads a dataset folder"):
        load_train_config(CONFIGS / "hand.yaml")
    cfg = load_train_config(CONFIGS / "hand.yaml", [f"data.path={tmp_path}"])
    assert (cfg.stage, cfg.data.source, cfg.epochs, cfg.optimizer.lr, cfg.network.input_size) == \
        ("hand", "freihand", 60, 1e-4, 256)
    face = load_train_config(CONFIGS / "face.yaml", [f"data.path={tmp_path}"])
    assert (face.stage, face.data.source, face.epochs, face.objective.weights.bm_expression) == \
        ("face", "ffhq", 100, 1.0)
