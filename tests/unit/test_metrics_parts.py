"""Part (hand/face) errors, the whole-body bundle and MetricAccumulator (robosmplx_core.eval)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from robosmplx_core.body_model.keypoint_sets import WHOLEBODY137_NAMES
from robosmplx_core.eval import (
    WHOLEBODY137_PARTS,
    MetricAccumulator,
    PartSpec,
    mean_of_hands,
    mpjpe_mm,
    pa_mpjpe_mm,
    part_mpjpe_mm,
    part_pa_mpjpe_mm,
    part_pa_pve_mm,
    part_pve_mm,
    wholebody_errors_mm,
)

# A toy 7-joint skeleton: pelvis, neck, left wrist + 2 fingers, right wrist + 1 finger.
PELVIS, NECK, LWRIST, RWRIST = 0, 1, 2, 5
LEFT = PartSpec(joints=(3, 4), root=LWRIST, vertices=(0, 1))
RIGHT = PartSpec(joints=(6,), root=RWRIST, vertices=(2,))


def _toy(batch=1, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, 7, 3)) * 0.2


def test_partspec_normalises_indices():
    spec = PartSpec(joints=np.arange(3), root=4, vertices=range(2))
    assert spec == PartSpec(joints=(0, 1, 2), root=(4,), vertices=(0, 1))
    with pytest.raises(ValueError, match="PartSpec.joints"):
        PartSpec(joints=(), root=0)
    with pytest.raises(ValueError, match="PartSpec.root"):
        PartSpec(joints=(1,), root=-1)


def test_hand_moved_with_its_wrist_has_zero_wrist_aligned_error():
    gt = _toy()
    pred = gt.copy()
    pred[:, [LWRIST, 3, 4]] += [0.05, 0.0, 0.0]  # the left hand translates 50 mm as a whole
    np.testing.assert_allclose(part_mpjpe_mm(pred, gt, part=LEFT), [0.0], atol=1e-9)
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=PELVIS), [50.0 * 3 / 7])
    pred[:, 4] += [0.0, 0.0, 0.004]  # then one finger joint moves 4 mm
    np.testing.assert_allclose(part_mpjpe_mm(pred, gt, part=LEFT), [2.0])


def test_face_is_neck_aligned():
    gt = _toy(seed=1)
    face = PartSpec(joints=(0, 2), root=NECK)
    pred = gt + 0.0
    pred[:, [NECK, 0, 2]] += 0.01
    np.testing.assert_allclose(part_mpjpe_mm(pred, gt, part=face), [0.0], atol=1e-9)


def test_part_pa_mpjpe_uses_only_the_part():
    gt = _toy(seed=2)
    pred = gt.copy()
    pred[:, 0] += 1.0  # far off, but not in the part
    spec = PartSpec(joints=(2, 3, 4, 6), root=0)
    np.testing.assert_allclose(part_pa_mpjpe_mm(pred, gt, part=spec), [0.0], atol=1e-8)
    np.testing.assert_allclose(part_pa_mpjpe_mm(pred, gt, part=spec),
                               pa_mpjpe_mm(pred[:, [2, 3, 4, 6]], gt[:, [2, 3, 4, 6]]), atol=1e-8)  # fmt: skip


def test_part_vertex_errors_align_at_the_root_joint():
    gt_j, gt_v = _toy(2, seed=3), np.random.default_rng(4).normal(size=(2, 3, 3)) * 0.1
    pred_j, pred_v = gt_j.copy(), gt_v.copy()
    pred_j[:, LWRIST] += 0.02
    pred_v[:, [0, 1]] += 0.02  # left-hand vertices follow their wrist
    pred_v[:, 2] += [0.003, 0.0, 0.0]  # right-hand vertex moves 3 mm, its wrist does not
    kw = {"pred_joints": pred_j, "gt_joints": gt_j}
    np.testing.assert_allclose(part_pve_mm(pred_v, gt_v, part=LEFT, **kw), [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(part_pve_mm(pred_v, gt_v, part=RIGHT, **kw), [3.0, 3.0])
    np.testing.assert_allclose(part_pa_pve_mm(pred_v, gt_v, part=LEFT), [0.0, 0.0], atol=1e-8)
    with pytest.raises(ValueError, match="part.vertices is None"):
        part_pa_pve_mm(pred_v, gt_v, part=PartSpec(joints=(3,), root=2))
    with pytest.raises(ValueError, match=r"part.vertices: indices must lie in \[0, 3\)"):
        part_pa_pve_mm(pred_v, gt_v, part=PartSpec(joints=(3,), root=2, vertices=(5,)))


def test_hands_are_averaged_and_a_missing_hand_is_left_out():
    np.testing.assert_allclose(mean_of_hands(np.array([2.0, np.nan, 1.0]), np.array([4.0, 6.0, np.nan])),
                               [3.0, 6.0, 1.0])  # fmt: skip
    both_missing = mean_of_hands(torch.tensor([np.nan]), torch.tensor([np.nan]))
    assert isinstance(both_missing, torch.Tensor) and torch.isnan(both_missing).all()


def test_wholebody137_parts_point_at_the_right_joints():
    parts = WHOLEBODY137_PARTS
    assert WHOLEBODY137_NAMES[parts.left_hand.root[0]] == "left_wrist"
    assert WHOLEBODY137_NAMES[parts.right_hand.root[0]] == "right_wrist"
    assert WHOLEBODY137_NAMES[parts.face.root[0]] == "neck"
    assert WHOLEBODY137_NAMES[parts.body.root[0]] == "pelvis"
    assert WHOLEBODY137_NAMES[parts.left_hand.joints[0]] == "left_thumb1"
    assert len(parts.body.joints) == 25 and len(parts.left_hand.joints) == 20 and len(parts.face.joints) == 72


def test_wholebody_errors_match_the_single_metrics():
    rng = np.random.default_rng(5)
    gt = rng.normal(size=(3, 137, 3)) * 0.3
    pred = gt + 0.01 * rng.normal(size=gt.shape)
    w = (rng.uniform(size=(3, 137)) > 0.2).astype(float)
    w[2, WHOLEBODY137_PARTS.left_hand.joints] = 0  # sample 2: left hand unlabelled
    errs = wholebody_errors_mm(pred, gt, parts=WHOLEBODY137_PARTS, weights=w)
    lh, rh = WHOLEBODY137_PARTS.left_hand, WHOLEBODY137_PARTS.right_hand
    left, right = part_mpjpe_mm(pred, gt, part=lh, weights=w), part_mpjpe_mm(pred, gt, part=rh, weights=w)
    np.testing.assert_allclose(errs.mpjpe_hands_mm[:2], (left[:2] + right[:2]) / 2)
    np.testing.assert_allclose(errs.mpjpe_hands_mm[2], right[2])
    np.testing.assert_allclose(errs.mpjpe_all_mm, mpjpe_mm(pred, gt, root=0, weights=w))
    assert errs.pve_all_mm is None and set(errs.as_dict()) == {
        f"{pa}mpjpe_{g}_mm" for pa in ("", "pa_") for g in ("all", "body", "hands", "face")
    }


def test_wholebody_with_meshes_fills_vertex_errors():
    gt_j, gt_v = _toy(2, seed=6), np.random.default_rng(7).normal(size=(2, 5, 3))
    parts = dataclasses.replace(
        WHOLEBODY137_PARTS,
        body=PartSpec(joints=(0, 1, 2, 5), root=PELVIS),
        left_hand=LEFT,
        right_hand=RIGHT,
        face=PartSpec(joints=(1,), root=NECK, vertices=(3, 4)),
    )
    errs = wholebody_errors_mm(gt_j + 0.1, gt_j, parts=parts, pred_vertices=gt_v + 0.1, gt_vertices=gt_v)
    for name, value in errs.as_dict().items():
        np.testing.assert_allclose(value, [0.0, 0.0], atol=1e-8, err_msg=name)
    assert len(errs.as_dict()) == 14
    with pytest.raises(ValueError, match="both pred_vertices and gt_vertices"):
        wholebody_errors_mm(gt_j, gt_j, parts=parts, pred_vertices=gt_v)


# ---------------------------------------------------------------------------------------------
# MetricAccumulator
# ---------------------------------------------------------------------------------------------


def test_accumulator_means_counts_and_skips():
    acc = MetricAccumulator()
    acc.update({"mpjpe_mm": np.array([1.0, 2.0, np.nan])}, pve_mm=torch.tensor([10.0]))
    acc.update(mpjpe_mm=torch.tensor([3.0, 6.0]), pve_mm=np.array([np.nan]), fscore_5mm=0.5)
    acc.update(mpjpe_mm=np.zeros(0))  # an empty batch changes nothing
    s = acc.summary()
    assert s.means["mpjpe_mm"] == pytest.approx(3.0)
    assert (s.used["mpjpe_mm"], s.skipped["mpjpe_mm"]) == (4, 1)
    assert s.means["pve_mm"] == pytest.approx(10.0) and s.skipped["pve_mm"] == 1
    assert s.means["fscore_5mm"] == pytest.approx(0.5)
    with pytest.raises(TypeError):
        s.means["mpjpe_mm"] = 0.0  # read-only
    assert json.loads(json.dumps(s.as_dict()))["mpjpe_mm"] == {"mean": 3.0, "used": 4, "skipped": 1}
    assert "mpjpe_mm" in s.format() and "skipped=1" in s.format()


def test_accumulator_all_skipped_gives_none_and_reset():
    acc = MetricAccumulator()
    acc.update(pa_mpjpe_mm=np.array([np.nan, np.nan]))
    s = acc.summary()
    assert s.means["pa_mpjpe_mm"] is None and s.skipped["pa_mpjpe_mm"] == 2
    assert "n/a" in s.format()
    assert json.dumps(s.as_dict()) == '{"pa_mpjpe_mm": {"mean": null, "used": 0, "skipped": 2}}'
    acc.reset()
    assert acc.summary().means == {} and acc.summary().format() == "(no metrics)"


def test_accumulator_rejects_bad_values():
    acc = MetricAccumulator()
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        acc.update(x=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="inf"):
        acc.update(x=np.array([np.inf]))
    with pytest.raises(ValueError, match="given both"):
        acc.update({"x": np.zeros(1)}, x=np.zeros(1))
    with pytest.raises(TypeError):
        acc.update(x=[1.0])
    assert acc.summary().means == {}, "a rejected update leaves no partial state"
