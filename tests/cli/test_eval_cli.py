"""`robosmplx eval` end to end on a tiny saved checkpoint and a few synthetic crops, and every bad input."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import cv2
import pytest
import torch

from robosmplx_core.cli import main
from robosmplx_core.nets.checkpoint import save_checkpoint
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_CONFIG, TINY_NETWORK_CONFIG, randomize_heads
from robosmplx_core.nets.wholebody import WholeBodyNetwork
from training.eval_cli import METRIC_LABELS
from training.robustness import robustness_protocol

LABELS = [p.label for p in robustness_protocol()]


def _checkpoint(folder: Path, part: str, *, part_only: bool = False) -> Path:
    torch.manual_seed(0)
    net = randomize_heads(PartSubnetwork.from_config(part_spec(part), TINY_SUBNET_CONFIG, part_only=part_only))
    return save_checkpoint(folder / part, network=net, config=TINY_SUBNET_CONFIG, part=part)


@pytest.fixture(scope="module")
def robustness_run(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("eval")
    ckpt = _checkpoint(tmp, "body")
    buffer = io.StringIO()  # capsys is function-scoped; the run is shared by two tests
    with contextlib.redirect_stdout(buffer):
        code = main(["eval", str(ckpt), "--data", "synthetic:seed=5,n=3", "--robustness", "--out", str(tmp / "out"),
                     "--batch-size", "2", "--quiet"])
    assert code == 0
    return tmp / "out", buffer.getvalue()


def test_robustness_prints_the_paper_table(robustness_run) -> None:
    _, printed = robustness_run
    lines = printed.splitlines()
    headers = [ln for ln in lines if ln.startswith("(mm)")]
    assert len(headers) == 2  # positional block (tables 4, 5, 7), then figure 1's variants
    assert headers[0].split("  ")[0] == "(mm)" and "Transx +0.2x" in headers[0] and "Scale 0.7x" in headers[0]
    assert "Contrast 0.5x" in headers[1] and "Rot 30deg" in headers[1] and "Transx" not in headers[1]
    for label in LABELS:  # one column per perturbation (Normal repeated as the reference of block 2)
        assert sum(h.count(label) for h in headers) == (2 if label == "Normal" else 1), label
    rows = [ln for ln in lines if any(ln.startswith(METRIC_LABELS[m] + "  ") for m in METRIC_LABELS)]
    assert len(rows) == 2 * 6  # body: MPJPE, PA-MPJPE, their body-25 versions, PVE, PA-PVE in each block
    assert all(len(re.split(r"\s{2,}", r.strip())) == 1 + 7 for r in rows)  # label + 7 columns per block


def test_robustness_json_and_chart(robustness_run) -> None:
    out, _ = robustness_run
    report = json.loads((out / "eval.json").read_text())
    assert report["part"] == "body" and report["input_size"] == 64 and report["robustness"] is True
    entry = report["datasets"]["synthetic"]
    assert entry["samples"] == 3 and entry["spec"] == "synthetic:seed=5,n=3"
    results = entry["results"]
    assert list(results) == [p.name for p in robustness_protocol()]
    for name, metrics in results.items():
        assert set(metrics) == set(report["metrics"]) == {"mpjpe_mm", "pa_mpjpe_mm", "mpjpe_body_mm",
                                                          "pa_mpjpe_body_mm", "pve_mm", "pa_pve_mm"}
        assert all(m["used"] == 3 and m["mean"] > 0 for m in metrics.values()), name
    # image-variant perturbations change the image, so a network with random heads answers differently
    assert results["contrast"]["pa_mpjpe_mm"]["mean"] != results["normal"]["pa_mpjpe_mm"]["mean"]
    assert report["levels"]["rotation_deg"] == 30.0 and report["protocol"][1]["translate"] == [0.2, 0.0]
    image = cv2.imread(entry["chart"])
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 600


def test_plain_eval_of_a_hand_checkpoint(tmp_path, capsys) -> None:
    ckpt = _checkpoint(tmp_path, "hand", part_only=True)
    assert main(["eval", str(ckpt), "--data", "synthetic:n=2", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "evaluation:" in printed and "Transx" not in printed and "PA-PVE" in printed
    report = json.loads((tmp_path / "o" / "eval.json").read_text())
    assert list(report["datasets"]["synthetic"]["results"]) == ["normal"] and report["unsupported_metrics"] == {}
    assert not (tmp_path / "o" / "robustness_synthetic.png").exists()


@pytest.mark.parametrize("data, message", [
    ("coco:/x", "unknown dataset 'coco'"),
    ("ehf:{tmp}/missing", "EHF root"),
    ("freihand:{tmp}", "freihand gives hand crops but the checkpoint is a body subnetwork"),
    ("3dpw:{tmp}/missing", "3DPW root"),
    ("stirling:{tmp}", "stirling gives face crops but the checkpoint is a body subnetwork"),
])
def test_bad_data(tmp_path, capsys, data: str, message: str) -> None:
    ckpt = _checkpoint(tmp_path, "body")
    assert main(["eval", str(ckpt), "--data", data.format(tmp=tmp_path), "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("robosmplx eval: error:")
    assert re.search(message, err), err


def test_bad_checkpoints(tmp_path, capsys) -> None:
    assert main(["eval", str(tmp_path / "nope"), "--data", "synthetic", "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    whole = save_checkpoint(tmp_path / "wb", network=WholeBodyNetwork.from_config(TINY_NETWORK_CONFIG),
                            config=TINY_NETWORK_CONFIG)
    assert main(["eval", str(whole), "--data", "freihand:/x", "--quiet"]) == 2
    assert "checkpoint is a whole-body network" in capsys.readouterr().err
