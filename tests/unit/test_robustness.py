"""Robustness protocol: image ops at known values, labels follow every perturbation (ground-truth
predictions score ~0 under all of them), TrainingSample warps match the SyntheticSample ones,
the protocol loop and the dataset-spec parser."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data import SyntheticConfig, SyntheticDataset
from robosmplx_core.data.augment import warp_sample
from robosmplx_core.data.datasets import DatasetError, from_synthetic
from robosmplx_core.data.datasets.common import PARAM_FIELDS
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS, randomize_heads
from robosmplx_core.types import SMPLXParams
from training.eval_data import DATASETS, EvalContext, _adapter, build_source, iter_items, parse_data_spec
from training.evaluate import SHIFTS
from training.part_eval import PartEvaluator
from training.robustness import (
    NORMAL, EvalItem, Perturbation, ScanTruth, adjust_brightness, adjust_contrast, adjust_hue, adjust_sharpness,
    perturb, robustness_protocol, run_protocol, to_grayscale, warp_training_sample,
)

SIZE = 64
PROTOCOL = robustness_protocol()


@pytest.fixture(scope="module")
def items(model: BodyModel) -> dict[str, list[EvalItem]]:
    out = {}
    for part in ("body", "hand", "face"):
        ds = SyntheticDataset(config=SyntheticConfig(seed=11, image_size=SIZE, part=part, length=3), model=model)
        out[part] = [EvalItem(from_synthetic(ds[i])) for i in range(2)]
    return out


def _evaluator(model: BodyModel, part: str, *, part_only: bool) -> PartEvaluator:
    torch.manual_seed(0)
    net = PartSubnetwork(part_spec(part), part_only=part_only, **TINY_SUBNET_KWARGS).eval()
    return PartEvaluator(network=net, body_model=model)


def _gt(items: list[EvalItem]) -> SMPLXParams:
    return SMPLXParams.cat([it.sample.params for it in items])


# ---------------------------------------------------------------------------- image ops


def test_image_ops_known_values() -> None:
    torch.manual_seed(0)
    img = torch.rand(3, 8, 8)
    for op in (adjust_contrast, adjust_sharpness, adjust_brightness, to_grayscale):
        assert torch.allclose(op(img, 1.0), img, atol=1e-6), op.__name__
    assert torch.allclose(adjust_hue(img, 0.0), img, atol=1e-5)
    assert torch.allclose(adjust_brightness(img, 0.5), img / 2)
    grey = to_grayscale(img, 0.0)
    assert torch.allclose(grey[0], grey[1]) and torch.allclose(grey[1], grey[2])
    assert torch.allclose(grey[0], 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2], atol=1e-6)
    flat = adjust_contrast(img, 0.0)
    assert torch.allclose(flat, torch.full_like(img, float(grey[0].mean())), atol=1e-6)
    smooth = adjust_sharpness(img, 0.0)  # 3x3 SMOOTH kernel inside, border pixels kept
    expect = (img[:, 2:5, 2:5].sum((1, 2)) + 4 * img[:, 3, 3]) / 13.0
    assert torch.allclose(smooth[:, 3, 3], expect, atol=1e-6)
    assert torch.equal(smooth[:, 0], img[:, 0]) and torch.equal(smooth[:, :, -1], img[:, :, -1])


def test_hue_third_of_a_turn_maps_red_to_green() -> None:
    red = torch.zeros(3, 4, 4)
    red[0] = 1.0
    green = adjust_hue(red, 1.0 / 3.0)
    assert torch.allclose(green, torch.stack([torch.zeros(4, 4), torch.ones(4, 4), torch.zeros(4, 4)]), atol=1e-4)
    assert torch.allclose(adjust_hue(red, 1.0), red, atol=1e-4)


# ---------------------------------------------------------------------------- perturbations


def test_protocol_matches_the_paper() -> None:
    names = [p.name for p in PROTOCOL]
    assert names[:7] == list(SHIFTS)  # tables 4, 5, 7, in the paper's column order
    assert names[7:] == ["contrast", "sharpness", "brightness", "hue", "grayscale", "rotate_30"]
    for p in PROTOCOL[:7]:
        assert (p.translate, p.scale) == (SHIFTS[p.name]["translate"], SHIFTS[p.name]["scale"])
    assert [p.kind for p in PROTOCOL].count("image") == 5 and PROTOCOL[-1].kind == "pose"
    assert PROTOCOL[1].label == "Transx +0.2x" and PROTOCOL[5].label == "Scale 1.3x"
    with pytest.raises(ValueError, match="image_op"):
        Perturbation("x", "X", "image", image_op="posterize")


def test_normal_is_the_identity(items) -> None:
    item = items["body"][0]
    assert NORMAL.is_identity and perturb(item, NORMAL) is item
    same = warp_training_sample(item.sample)
    assert torch.allclose(same.image, item.sample.image, atol=1e-6)
    assert torch.allclose(same.joints2d, item.sample.joints2d) and torch.equal(same.K, item.sample.K)


def test_image_variants_keep_the_labels(items) -> None:
    item = items["body"][0]
    for p in PROTOCOL[7:12]:
        out = perturb(item, p).sample
        assert not torch.equal(out.image, item.sample.image), p.name
        assert torch.equal(out.joints2d, item.sample.joints2d) and torch.equal(out.joints3d, item.sample.joints3d)


@pytest.mark.parametrize("kwargs", [dict(angle_deg=25.0), dict(translate=(0.1, -0.05), scale=1.3),
                                    dict(angle_deg=-30.0, translate=(-0.2, 0.0), scale=0.7)])
def test_training_sample_warp_matches_synthetic_warp(model, kwargs) -> None:
    s = SyntheticDataset(config=SyntheticConfig(seed=11, image_size=SIZE, length=1), model=model)[0]
    a = from_synthetic(warp_sample(s, **kwargs))
    b = warp_training_sample(from_synthetic(s), **kwargs)
    for name in ("image", "joints2d", "joints3d", "K", "pelvis3d", "left_hand_box_cxcys", "face_box_cxcys"):
        assert torch.allclose(getattr(a, name), getattr(b, name), atol=1e-5), name
    for name in ("segmentation", "person_mask", "joints_visible"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert torch.allclose(a.params.transl, b.params.transl, atol=1e-5)
    assert torch.allclose(a.params.global_orient, b.params.global_orient, atol=1e-6)


def test_rotation_without_pelvis_marks_transl_invalid(items) -> None:
    sample = dataclasses.replace(items["body"][0].sample, has_pelvis3d=False)
    out = warp_training_sample(sample, angle_deg=30.0)
    assert not bool(out.params_valid[PARAM_FIELDS.index("transl")]) and bool(out.params_valid[0])
    assert bool(warp_training_sample(sample, translate=(0.2, 0.0)).params_valid.all())


# ---------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("part", ["body", "hand", "face"])
def test_ground_truth_scores_zero_under_every_perturbation(model, items, part) -> None:
    ev = _evaluator(model, part, part_only=part != "body")
    for p in PROTOCOL:
        moved = [perturb(it, p) for it in items[part]]
        values = ev.metrics(_gt(moved), moved)
        assert set(values) == set(ev.metric_names)
        for name, v in values.items():
            assert v.shape == (2,) and float(v.abs().max()) < 0.01, (part, p.name, name)
    rotated = [perturb(it, PROTOCOL[-1]) for it in items[part]]
    wrong = ev.metrics(_gt(items[part]), rotated)  # labels rotated, prediction not: MPJPE must see it
    assert float(wrong["mpjpe_mm"].min()) > 20.0 and float(wrong["pa_mpjpe_mm"].max()) < 0.01


def test_part_only_false_reports_procrustes_metrics_only(model, items) -> None:
    ev = _evaluator(model, "hand", part_only=False)
    assert set(ev.unsupported) == {"mpjpe_mm", "pve_mm"}
    values = ev(items["hand"])  # the network's own prediction
    assert set(values) == {"pa_mpjpe_mm", "pa_pve_mm"} and bool(torch.isfinite(values["pa_mpjpe_mm"]).all())


def test_mesh_ground_truth_without_params_or_joints(model, items) -> None:
    """An EHF-like item (GT mesh only) gives PVE ~0 for the right prediction, MPJPE skipped (NaN)."""
    ev = _evaluator(model, "body", part_only=False)
    full = items["body"][0]
    with torch.no_grad():
        mesh = model(full.sample.params).vertices[0]
    bare = dataclasses.replace(full.sample, params_valid=torch.zeros(len(PARAM_FIELDS), dtype=torch.bool),
                               joints3d_conf=torch.zeros_like(full.sample.joints3d_conf), has_joints3d=False)
    item = EvalItem(bare, gt_vertices=mesh)
    rot = PROTOCOL[-1]
    values = ev.metrics(_gt([perturb(full, rot)]), [perturb(item, rot)])
    assert math.isnan(float(values["mpjpe_mm"][0])) and math.isnan(float(values["pa_mpjpe_mm"][0]))
    assert float(values["pve_mm"][0]) < 0.01 and float(values["pa_pve_mm"][0]) < 0.01
    with pytest.raises(ValueError, match="vertices"):
        ev.metrics(_gt([full]), [EvalItem(bare, gt_vertices=mesh[:100])])
    with pytest.raises(ValueError, match="hand crops"):
        ev.metrics(_gt(items["hand"]), items["hand"])


def test_scan_ground_truth_3drmse(model, items) -> None:
    """A Stirling-like scan (own frame: another rotation, scale and offset, a subset of points)
    gives 3DRMSE ~0 for the right face, under every perturbation, and more for a wrong one."""
    ev = _evaluator(model, "face", part_only=False)
    item = items["face"][0]
    with torch.no_grad():
        out = model(item.sample.params)
    verts, joints = out.vertices[0].double(), out.joints[0, ev.joint_index].double()
    landmark_joints = (24, 27, 30, 33, 21, 36, 42)  # eye corners, nose, mouth corners of the face spec
    a = 0.7
    R = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]],
                     dtype=torch.float64)

    def to_scan(x: torch.Tensor) -> torch.Tensor:
        return 1.1 * x @ R.T + torch.tensor([0.3, -0.2, 1.0], dtype=torch.float64)

    scan = ScanTruth(points=to_scan(verts[ev.vertices][::3]), landmarks=to_scan(joints[list(landmark_joints)]),
                     landmark_joints=landmark_joints)
    bare = dataclasses.replace(item.sample, params_valid=torch.zeros(len(PARAM_FIELDS), dtype=torch.bool))
    for p in (NORMAL, PROTOCOL[1], PROTOCOL[-1]):
        moved = perturb(EvalItem(bare, gt_scan=scan), p)
        assert moved.gt_scan is scan
        values = ev.metrics(_gt([perturb(item, p)]), [moved])
        assert float(values["rmse3d_mm"][0]) < 0.01 and math.isnan(float(values["pa_pve_mm"][0])), p.name
    wrong = dataclasses.replace(item.sample.params, expression=torch.full_like(item.sample.params.expression, 2.0))
    assert float(ev.metrics(wrong, [EvalItem(bare, gt_scan=scan)])["rmse3d_mm"][0]) > 0.5


def test_run_protocol_counts_every_sample(model, items) -> None:
    ev = _evaluator(model, "body", part_only=False)
    seen = []
    out = run_protocol(ev, iter(items["body"]), PROTOCOL[:3], batch_size=1, on_batch=seen.append)
    assert list(out) == [p.name for p in PROTOCOL[:3]] and seen == [1, 1]
    assert all(s.used["mpjpe_mm"] == 2 and s.means["mpjpe_mm"] > 0 for s in out.values())
    with pytest.raises(ValueError, match="distinct"):
        run_protocol(ev, iter(items["body"]), [NORMAL, NORMAL])
    with pytest.raises(ValueError, match="no samples"):
        run_protocol(ev, iter([]), [NORMAL])


# ---------------------------------------------------------------------------- dataset specs


def test_data_specs(model, tmp_path) -> None:
    spec = parse_data_spec("synthetic:seed=3,n=2")
    assert (spec.name, spec.path, dict(spec.options)) == ("synthetic", None, {"seed": 3, "n": 2})
    source = build_source(spec, EvalContext(part="face", input_size=SIZE, body_model=model))
    (first, _) = list(iter_items(source))
    assert first.sample.part == "face" and first.sample.image_size == SIZE
    assert parse_data_spec("EHF:/data/EHF").path.as_posix() == "/data/EHF"
    with pytest.raises(ValueError, match="unknown dataset 'coco'.*ehf.*synthetic"):
        parse_data_spec("coco:/x")
    with pytest.raises(ValueError, match="needs the dataset folder"):
        parse_data_spec("ehf")
    with pytest.raises(ValueError, match="bad option"):
        parse_data_spec("synthetic:speed=3")
    ctx = EvalContext(part="body", input_size=SIZE, body_model=model)
    with pytest.raises(DatasetError, match="EHF root"):
        build_source(parse_data_spec(f"ehf:{tmp_path / 'missing'}"), ctx)
    with pytest.raises(ValueError, match="hand crops but the checkpoint is a body"):
        build_source(parse_data_spec(f"freihand:{tmp_path}"), ctx)
    assert DATASETS["agora"].part is None  # AGORA crops any part, as the checkpoint
    for name, part in (("agora", "hand"), ("3dpw", "body"), ("stirling", "face")):
        with pytest.raises(DatasetError, match="root"):  # the adapter's own error, naming its layout
            build_source(parse_data_spec(f"{name}:{tmp_path / 'missing'}"),
                         EvalContext(part=part, input_size=SIZE, body_model=model))
    with pytest.raises(ValueError, match="cannot be used"):
        _adapter("no_such_adapter", "NoSuchDataset")


def test_same_numbers_as_the_learning_check_evaluation(model) -> None:
    """On synthetic crops the protocol's location columns equal ``training.evaluate`` (the learning
    check's MPJPE / PA-MPJPE / PVE under ``SHIFTS``)."""
    from training.evaluate import evaluate, shifted
    from training.objective import BodyObjective

    samples = [SyntheticDataset(config=SyntheticConfig(seed=2, image_size=SIZE, length=2), model=model)[i]
               for i in range(2)]
    ev = _evaluator(model, "body", part_only=False)
    randomize_heads(ev.network)
    ours = run_protocol(ev, (EvalItem(from_synthetic(s)) for s in samples), PROTOCOL[:7])
    objective = BodyObjective(body_model=model)
    for name in ("normal", "translate_x-0.2", "scale_1.3"):
        theirs = evaluate(objective, shifted(samples, name), net=ev.network)
        for key in ("mpjpe", "pa_mpjpe", "pve"):
            assert ours[name].means[f"{key}_mm"] == pytest.approx(theirs[f"{key}_mm"], rel=1e-5), (name, key)
