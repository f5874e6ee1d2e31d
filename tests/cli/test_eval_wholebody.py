"""`robosmplx eval` of a whole-body checkpoint: full-image body samples, the WholeBodyEvaluator's
metrics at known values (ground truth ~0 under every perturbation, validity flags), the image-size
default, the robustness run and the errors.

Tiny network: three TINY subnetworks (64 px crops) on 128 px synthetic images."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import re
from pathlib import Path

import cv2
import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.keypoint_sets import WHOLEBODY137_NAMES
from robosmplx_core.cli import main
from robosmplx_core.config import save_config
from robosmplx_core.data import SyntheticConfig, SyntheticDataset
from robosmplx_core.data.datasets import from_synthetic
from robosmplx_core.data.datasets.common import PARAM_FIELDS, collate_training_samples
from robosmplx_core.nets.checkpoint import save_checkpoint
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.nets.subnet import PartSubnetwork, normalize_images
from robosmplx_core.nets.testing import TINY_NETWORK_CONFIG, TINY_SUBNET_CONFIG, TINY_SUBNET_KWARGS, randomize_heads
from robosmplx_core.nets.wholebody import WholeBodyNetwork
from robosmplx_core.types import SMPLXParams
from training.config import load_train_config
from training.eval_cli import METRIC_LABELS, wholebody_image_size
from training.robustness import EvalItem, perturb, robustness_protocol
from training.state import CONFIG_FILE
from training.validation import network_outputs
from training.wholebody import person_boxes
from training.wholebody_eval import ALIASES, WHOLEBODY_METRICS, WholeBodyEvaluator, perturb_wholebody

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = robustness_protocol()


def _network() -> WholeBodyNetwork:
    torch.manual_seed(0)
    return randomize_heads(WholeBodyNetwork.from_config(TINY_NETWORK_CONFIG)).eval()


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load(use_face_contour=True)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("wb") / "ckpt", network=_network(), config=TINY_NETWORK_CONFIG)


def _eval(args: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["eval", *args, "--quiet"])
    return code, buffer.getvalue()


@pytest.fixture(scope="module")
def plain_run(checkpoint, tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("eval")
    code, printed = _eval([str(checkpoint), "--data", "synthetic:seed=1000,n=4", "--image-size", "128",
                           "--out", str(out)])
    assert code == 0
    return json.loads((out / "eval.json").read_text()), printed


@pytest.fixture(scope="module")
def items(model) -> list[EvalItem]:
    ds = SyntheticDataset(config=SyntheticConfig(seed=11, image_size=128, part="body", length=2), model=model)
    return [EvalItem(from_synthetic(ds[i])) for i in range(2)]


# ---------------------------------------------------------------------------- the command


def test_eval_json_of_a_wholebody_checkpoint(plain_run) -> None:
    report, _ = plain_run
    assert report["kind"] == "wholebody" and report["part"] == "body"
    assert report["image_size"] == 128 and report["image_size_source"] == "--image-size" and report["input_size"] == 64
    assert report["metrics"] == list(WHOLEBODY_METRICS) and report["metric_aliases"] == ALIASES
    entry = report["datasets"]["synthetic"]
    assert entry["samples"] == 4 and list(entry["results"]) == ["normal"]
    normal = entry["results"]["normal"]
    assert set(normal) == set(WHOLEBODY_METRICS) | set(ALIASES)
    for name, m in normal.items():
        assert m["used"] == 4 and m["skipped"] == 0 and math.isfinite(m["mean"]) and m["mean"] > 0, name
    for alias, name in ALIASES.items():
        assert normal[alias]["mean"] == normal[name]["mean"]
    assert 0 < normal["pa_mpjpe_all_mm"]["mean"] < normal["mpjpe_all_mm"]["mean"]
    assert normal["pa_mpjpe_hands_mm"]["mean"] < normal["mpjpe_hands_mm"]["mean"]


def test_printed_table(plain_run) -> None:
    report, printed = plain_run
    assert "whole-body network on 128 px images (--image-size), body crop 64 px" in printed
    assert re.search(r"synthetic: 4 samples, wholebody checkpoint .* \(128 px\), errors in mm", printed)
    normal = report["datasets"]["synthetic"]["results"]["normal"]
    rows = {ln.rsplit(None, 1)[0].strip(): float(ln.split()[-1]) for ln in printed.splitlines()
            if any(ln.startswith(METRIC_LABELS[m] + " ") for m in WHOLEBODY_METRICS)}
    assert len(rows) == len(WHOLEBODY_METRICS)
    for name in WHOLEBODY_METRICS:
        assert rows[METRIC_LABELS[name]] == pytest.approx(normal[name]["mean"], abs=0.006), name


def test_image_size_reaches_the_samples(checkpoint, plain_run, tmp_path) -> None:
    """Another --image-size renders other full images: other errors, the size in the report."""
    code, _ = _eval([str(checkpoint), "--data", "synthetic:seed=1000,n=4", "--image-size", "96",
                     "--out", str(tmp_path)])
    report = json.loads((tmp_path / "eval.json").read_text())
    assert code == 0 and report["image_size"] == 96
    other = report["datasets"]["synthetic"]["results"]["normal"]["pa_mpjpe_all_mm"]["mean"]
    assert other != plain_run[0]["datasets"]["synthetic"]["results"]["normal"]["pa_mpjpe_all_mm"]["mean"]


def test_robustness_writes_the_chart(checkpoint, tmp_path) -> None:
    code, printed = _eval([str(checkpoint), "--data", "synthetic:seed=5,n=2", "--robustness", "--image-size", "128",
                           "--out", str(tmp_path)])
    assert code == 0 and "Transx +0.2x" in printed and "Rot 30deg" in printed
    entry = json.loads((tmp_path / "eval.json").read_text())["datasets"]["synthetic"]
    results = entry["results"]
    assert list(results) == [p.name for p in PROTOCOL]
    for name, metrics in results.items():
        assert all(metrics[m]["used"] == 2 and metrics[m]["mean"] > 0 for m in WHOLEBODY_METRICS), name
    # the shift moves the person box given to the network: other predictions
    assert results["translate_x+0.2"]["pa_mpjpe_all_mm"]["mean"] != results["normal"]["pa_mpjpe_all_mm"]["mean"]
    assert Path(entry["chart"]) == tmp_path / "robustness_synthetic.png"
    image = cv2.imread(entry["chart"])
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 600


@pytest.mark.parametrize("data", ["freihand:{tmp}", "stirling:{tmp}"])
def test_part_datasets_are_refused(checkpoint, tmp_path, capsys, data: str) -> None:
    assert main(["eval", str(checkpoint), "--data", data.format(tmp=tmp_path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("robosmplx eval: error:") and "crops but the checkpoint is a whole-body network" in err
    assert "use a body dataset: ['3dpw', 'agora', 'ehf', 'h36m', 'synthetic']" in err


def test_bad_image_sizes(checkpoint, tmp_path, capsys) -> None:
    assert main(["eval", str(checkpoint), "--data", "synthetic:n=1", "--image-size", "32", "--out", str(tmp_path)]) == 2
    assert "smaller than the body subnetwork's input (64 px)" in capsys.readouterr().err
    hand = save_checkpoint(tmp_path / "hand", network=PartSubnetwork.from_config(part_spec("hand"), TINY_SUBNET_CONFIG),
                           config=TINY_SUBNET_CONFIG, part="hand")
    assert main(["eval", str(hand), "--data", "synthetic:n=1", "--image-size", "128", "--out", str(tmp_path)]) == 2
    assert "drop --image-size" in capsys.readouterr().err


def test_image_size_default_from_train_yaml(checkpoint, tmp_path) -> None:
    assert wholebody_image_size(checkpoint, 64) == (128, f"2 x the body subnetwork's input size (no "
                                                         f"{checkpoint / CONFIG_FILE})")
    assert wholebody_image_size(checkpoint, 64, 200)[0] == 200
    tiny = [f"network.{k}={v}" for k, v in TINY_SUBNET_KWARGS.items()]
    cfg = load_train_config(ROOT / "training/configs/synthetic_wholebody.yaml",
                            tiny + ["data.train.image_size=96", "objective.render_size=24"])
    save_config(cfg, tmp_path / CONFIG_FILE)  # as the trainer does beside every checkpoint
    assert wholebody_image_size(tmp_path, 64)[0] == 96
    assert wholebody_image_size(tmp_path, 64, 160)[0] == 160  # the option wins
    body = load_train_config(ROOT / "training/configs/synthetic_body.yaml")
    save_config(body, tmp_path / CONFIG_FILE)
    with pytest.raises(ValueError, match="'body' run.*--image-size"):
        wholebody_image_size(tmp_path, 64)


# ---------------------------------------------------------------------------- the evaluator


def _gt(items: list[EvalItem]) -> SMPLXParams:
    return SMPLXParams.cat([it.sample.params for it in items])


def test_ground_truth_scores_zero_under_every_perturbation(model, items) -> None:
    ev = WholeBodyEvaluator(network=_network(), body_model=model)
    for p in PROTOCOL:
        moved = [perturb(it, p) for it in items]
        values = ev.metrics(_gt(moved), moved)
        assert set(values) == set(WHOLEBODY_METRICS) | set(ALIASES)
        for name, v in values.items():
            assert v.dtype == torch.float64 and v.shape == (2,) and float(v.abs().max()) < 0.01, (p.name, name)
    rotated = [perturb(it, PROTOCOL[-1]) for it in items]
    wrong = ev.metrics(_gt(items), rotated)  # labels rotated, prediction not: MPJPE must see it
    assert float(wrong["mpjpe_all_mm"].min()) > 20.0 and float(wrong["pa_mpjpe_all_mm"].max()) < 0.01


def test_runs_the_network_as_in_training(model, items) -> None:
    net = _network()
    ev = WholeBodyEvaluator(network=net, body_model=model)
    batch = collate_training_samples([it.sample for it in items])
    with torch.no_grad():
        expect = network_outputs(net, "wholebody", batch).params  # training.validation's call
    got = ev.predict(items)
    assert torch.allclose(got.body_pose, expect.body_pose) and torch.allclose(got.right_hand_pose,
                                                                              expect.right_hand_pose)
    values = ev(items)
    assert all(bool(torch.isfinite(v).all()) for v in values.values())


def test_location_perturbations_move_the_person_box(model, items) -> None:
    """Whole-body protocol: translate / scale move the box over the unchanged image (a detector
    box off by 0.2 of its side, or 1.3x too big); the evaluator gives the network that box."""
    base = person_boxes(collate_training_samples([it.sample for it in items]))
    w, h = base[:, 2] - base[:, 0], base[:, 3] - base[:, 1]
    by_name = {p.name: p for p in PROTOCOL}
    moved = [perturb_wholebody(it, by_name["translate_x+0.2"]) for it in items]
    assert all(m.sample is it.sample for m, it in zip(moved, items))  # image and labels unchanged
    boxes = torch.stack([m.person_box_xyxy for m in moved])
    assert torch.allclose(boxes[:, 0] - base[:, 0], 0.2 * w) and torch.allclose(boxes[:, 3], base[:, 3])
    zoomed = torch.stack([perturb_wholebody(it, by_name["scale_1.3"]).person_box_xyxy for it in items])
    assert torch.allclose(zoomed[:, 3] - zoomed[:, 1], 1.3 * h, atol=1e-4)
    rotated = perturb_wholebody(items[0], by_name[PROTOCOL[-1].name])
    assert rotated.person_box_xyxy is None and not torch.equal(rotated.sample.image, items[0].sample.image)
    net = _network()
    ev = WholeBodyEvaluator(network=net, body_model=model)
    with torch.no_grad():
        expect = net(normalize_images(collate_training_samples([it.sample for it in items]).image), boxes,
                     collate_training_samples([it.sample for it in items]).K).params
    assert torch.allclose(ev.predict(moved).body_pose, expect.body_pose)
    assert not torch.allclose(ev.predict(items).body_pose, expect.body_pose)


def _unlabel(item: EvalItem, *names: str) -> EvalItem:
    conf = item.sample.joints3d_conf.clone()
    conf[[WHOLEBODY137_NAMES.index(n) for n in names]] = 0.0
    return EvalItem(dataclasses.replace(item.sample, joints3d_conf=conf))


def test_validity_flags(model, items) -> None:
    ev = WholeBodyEvaluator(network=_network(), body_model=model)
    full = items[0]
    gt = _gt([full, full])
    # no 3D joints: every joint metric NaN, the mesh (from valid params) still ~0
    no3d = EvalItem(dataclasses.replace(full.sample, has_joints3d=False))
    values = ev.metrics(gt, [full, no3d])
    for name in WHOLEBODY_METRICS[:8]:
        assert float(values[name][0]) < 0.01 and math.isnan(float(values[name][1])), name
    assert float(values["pve_all_mm"][1]) < 0.01
    # one invalid SMPL-X field and no GT mesh: no vertex metrics; joints unaffected
    valid = full.sample.params_valid.clone()
    valid[PARAM_FIELDS.index("expression")] = False
    no_mesh = EvalItem(dataclasses.replace(full.sample, params_valid=valid))
    values = ev.metrics(gt, [full, no_mesh])
    assert all(math.isnan(float(values[n][1])) for n in ("pve_all_mm", "pa_pve_all_mm", "pve_mm"))
    assert float(values["mpjpe_all_mm"][1]) < 0.01
    # unlabelled roots: the root-aligned metric of that group is NaN, Procrustes ones stay
    values = ev.metrics(gt, [_unlabel(full, "pelvis"), _unlabel(full, "neck")])
    assert math.isnan(float(values["mpjpe_all_mm"][0])) and math.isnan(float(values["mpjpe_body_mm"][0]))
    assert float(values["pa_mpjpe_all_mm"][0]) < 0.01 and float(values["mpjpe_face_mm"][0]) < 0.01
    assert math.isnan(float(values["mpjpe_face_mm"][1])) and float(values["mpjpe_all_mm"][1]) < 0.01


def test_hand_without_labelled_wrist_is_left_out(model, items) -> None:
    """A wrong left hand counts in the hands' MPJPE only while the left wrist is labelled."""
    ev = WholeBodyEvaluator(network=_network(), body_model=model)
    full = items[0]
    gt = _gt([full])
    bent = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.8, 0.0], [0.8, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    pred = dataclasses.replace(gt, left_hand_pose=bent.expand_as(gt.left_hand_pose).clone())
    labelled = ev.metrics(pred, [full])
    assert float(labelled["mpjpe_hands_mm"][0]) > 5.0 and float(labelled["pa_mpjpe_hands_mm"][0]) > 1.0
    assert float(labelled["mpjpe_face_mm"][0]) < 0.01
    wrist_missing = ev.metrics(pred, [_unlabel(full, "left_wrist")])
    assert float(wrist_missing["mpjpe_hands_mm"][0]) < 0.01  # the right hand alone
    assert float(wrist_missing["pa_mpjpe_hands_mm"][0]) > 1.0  # Procrustes needs no wrist


def test_evaluator_errors(model, items) -> None:
    with pytest.raises(ValueError, match="PartEvaluator"):
        WholeBodyEvaluator(network=PartSubnetwork.from_config(part_spec("body"), TINY_SUBNET_CONFIG), body_model=model)
    ev = WholeBodyEvaluator(network=_network(), body_model=model)
    ds = SyntheticDataset(config=SyntheticConfig(seed=2, image_size=64, part="hand", length=1), model=model)
    hand = [EvalItem(from_synthetic(ds[0]))]
    with pytest.raises(ValueError, match=r"hand crops; evaluate it on a body dataset: \['3dpw'"):
        ev.metrics(_gt(hand), hand)
