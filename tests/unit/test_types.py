"""Core records validate their fields and convert rotations consistently."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core.types import Detections, Frame, PartConfidence, PersonEstimate, SMPLXParams, Tracks


def test_zeros_is_rest_pose() -> None:
    p = SMPLXParams.zeros(3, num_betas=16)
    assert p.batch_size == 3
    assert p.body_pose.shape == (3, 21, 3, 3) and p.left_hand_pose.shape == (3, 15, 3, 3)
    assert torch.equal(p.body_pose, torch.eye(3).expand(3, 21, 3, 3))
    assert p.betas.shape == (3, 16) and p.expression.shape == (3, 10)


def test_from_axis_angle_matches_scipy_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    aa = rng.normal(size=(2, 21, 3)) * 0.8
    p = SMPLXParams.from_axis_angle(body_pose=torch.tensor(aa, dtype=torch.float32),
                                    jaw_pose=torch.tensor([[0.3, 0.0, 0.0], [0.0, 0.1, 0.0]]))
    want = Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(2, 21, 3, 3)
    np.testing.assert_allclose(p.body_pose.numpy(), want, atol=1e-5)
    np.testing.assert_allclose(p.axis_angle("body_pose").numpy(), aa, atol=1e-5)
    assert p.jaw_pose.shape == (2, 3, 3)
    np.testing.assert_allclose(p.axis_angle("jaw_pose").numpy(), [[0.3, 0, 0], [0, 0.1, 0]], atol=1e-6)
    flat = SMPLXParams.from_axis_angle(body_pose=torch.tensor(aa.reshape(2, 63), dtype=torch.float32))
    assert torch.allclose(flat.body_pose, p.body_pose)


def test_select_and_cat() -> None:
    p = SMPLXParams.from_axis_angle(transl=torch.arange(6.0).reshape(2, 3))
    assert p.select(1).batch_size == 1 and p.select(1).transl.tolist() == [[3.0, 4.0, 5.0]]
    both = SMPLXParams.cat([p.select(1), p.select(0)])
    assert both.transl[:, 0].tolist() == [3.0, 0.0]


@pytest.mark.parametrize("field, value, match", [
    ("body_pose", torch.zeros(1, 20, 3, 3), r"body_pose: expected shape \(B, 21, 3, 3\)"),
    ("transl", torch.zeros(2, 3), r"transl: expected shape \(B, 3\) with B=1, got \(2, 3\)"),
    ("betas", torch.full((1, 10), float("nan")), "betas: contains NaN"),
    ("transl", torch.tensor([[0.0, float("inf"), 1.0]]), "transl: contains NaN or inf"),
    ("betas", torch.zeros(1, 10, dtype=torch.int64), "betas: expected a floating-point dtype"),
    ("betas", np.zeros((1, 10)), "betas: expected a torch.Tensor"),
])
def test_bad_params_name_the_field(field, value, match) -> None:
    base = vars(SMPLXParams.zeros(1)).copy()
    base[field] = value
    with pytest.raises(ValueError, match=match):
        SMPLXParams(**base)


def test_from_axis_angle_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown fields"):
        SMPLXParams.from_axis_angle(pose=torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"body_pose: expected axis-angle of shape \(B, 63\)"):
        SMPLXParams.from_axis_angle(body_pose=torch.zeros(1, 60))
    with pytest.raises(ValueError, match="jaw_pose: contains NaN"):
        SMPLXParams.from_axis_angle(jaw_pose=torch.tensor([[float("nan"), 0.0, 0.0]]))


def test_frame_checks() -> None:
    img = np.zeros((4, 6, 3), np.uint8)
    f = Frame(img, stamp_s=1.5, K=[[100, 0, 3], [0, 100, 2], [0, 0, 1]])
    assert (f.height, f.width) == (4, 6) and f.K.dtype == np.float64
    with pytest.raises(ValueError, match="uint8"):
        Frame(img.astype(np.uint16), 0.0)
    with pytest.raises(ValueError, match=r"Frame.image: expected shape \(H, W, 3\)"):
        Frame(np.zeros((4, 6), np.uint8), 0.0)
    with pytest.raises(ValueError, match="empty image"):
        Frame(np.zeros((0, 6, 3), np.uint8), 0.0)
    with pytest.raises(ValueError, match="stamp_s"):
        Frame(img, float("nan"))
    with pytest.raises(ValueError, match="focal lengths must be positive"):
        Frame(img, 0.0, K=np.diag([0.0, 100.0, 1.0]))


def test_detections_and_tracks() -> None:
    d = Detections(np.array([[0, 0, 10, 10], [5, 5, 20, 30]]), np.array([0.9, 0.5]))
    assert len(d) == 2 and d.boxes_xyxy.dtype == np.float32 and len(Detections.empty()) == 0
    with pytest.raises(ValueError, match=r"Detections.scores: expected shape \(2\)"):
        Detections(np.zeros((2, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"Detections.boxes_xyxy: expected shape \(N, 4\)"):
        Detections(np.zeros((2, 5)), np.zeros(2))
    t = Tracks([4, 9], np.zeros((2, 4)), [0.9, 0.8], [3, 0])
    assert t.track_ids.dtype == np.int64 and len(t) == 2 and len(Tracks.empty()) == 0
    with pytest.raises(ValueError, match="unique"):
        Tracks([4, 4], np.zeros((2, 4)), [0.9, 0.8], [3, 0])


def test_person_estimate_checks() -> None:
    ok = dict(track_id=1, box_xyxy=[0, 0, 5, 5], score=0.5, params=SMPLXParams.zeros(1),
              joints3d=np.zeros((127, 3)), joints2d=np.zeros((127, 2)), confidence=PartConfidence(body=1.0))
    assert PersonEstimate(**ok).joints3d.dtype == np.float32
    with pytest.raises(ValueError, match="batch size 1"):
        PersonEstimate(**{**ok, "params": SMPLXParams.zeros(2)})
    with pytest.raises(ValueError, match=r"joints2d: expected shape \(127, 2\)"):
        PersonEstimate(**{**ok, "joints2d": np.zeros((126, 2))})
    with pytest.raises(ValueError, match="track_id"):
        PersonEstimate(**{**ok, "track_id": -1})
    with pytest.raises(ValueError, match=r"PartConfidence.face: expected a value in \[0, 1\]"):
        PartConfidence(face=1.5)
