"""estimates.npz writer/reader and BVH export, checked with an independent BVH parser.

The parser and forward kinematics below are written from the BVH format (channel lists apply
their rotations left to right, ``G_j = G_parent [R_j | offset_j]``), not from the exporter, so
the round trip checks the file against the body model itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES, SMPLX_PARENTS
from robosmplx_core.export import (
    EstimatesWriter, TrackSequence, export_bvh, export_bvh_from_npz, load_estimates, load_track,
)
from robosmplx_core.export.bvh import CAMERA_TO_BVH, ROTATION_ORDER
from robosmplx_core.types import PartConfidence, PersonEstimate, SMPLXParams

FPS = 30.0
T0_S = 100.0
# track id -> frames in which it is seen (gaps on purpose)
TRACK_FRAMES = {3: [0, 1, 2, 3, 6, 7, 8, 9], 7: [2, 3, 8]}


# ---------------------------------------------------------------- an independent BVH reader


@dataclass
class ParsedBvh:
    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (K, 3)
    channels: list[list[str]]
    end_sites: dict[int, np.ndarray]
    num_frames: int
    frame_time_s: float
    motion: np.ndarray  # (F, C)


def parse_bvh(path: Path) -> ParsedBvh:
    """Strict parser: End Sites only on leaves, CHANNELS counts match, one value per channel."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    assert lines[0] == ["HIERARCHY"] and lines[1][0] == "ROOT"
    names, parents, offsets, channels, end_sites = [], [], [], [], {}
    stack: list[int] = []
    has_child: set[int] = set()
    i = 1
    while lines[i] != ["MOTION"]:
        head = lines[i]
        if head[0] in ("ROOT", "JOINT"):
            assert (head[0] == "ROOT") == (not names) and len(head) == 2
            assert lines[i + 1] == ["{"] and lines[i + 2][0] == "OFFSET" and len(lines[i + 2]) == 4
            chan = lines[i + 3]
            assert chan[0] == "CHANNELS" and int(chan[1]) == len(chan) - 2
            assert stack or not names, "a second ROOT"
            assert not (stack and stack[-1] in end_sites), "JOINT after End Site"
            parents.append(stack[-1] if stack else -1)
            has_child.update(stack[-1:])
            names.append(head[1])
            offsets.append([float(v) for v in lines[i + 2][1:]])
            channels.append(chan[2:])
            stack.append(len(names) - 1)
            i += 4
        elif head == ["End", "Site"]:
            assert lines[i + 1] == ["{"] and lines[i + 2][0] == "OFFSET" and lines[i + 3] == ["}"]
            assert stack[-1] not in has_child, "End Site on a joint with children"
            end_sites[stack[-1]] = np.array([float(v) for v in lines[i + 2][1:]])
            i += 4
        else:
            assert head == ["}"], f"unexpected line {head}"
            stack.pop()
            i += 1
    assert not stack, "unbalanced braces"
    assert lines[i + 1][0] == "Frames:" and lines[i + 2][:2] == ["Frame", "Time:"]
    motion = np.array([[float(v) for v in line] for line in lines[i + 3:]])
    n_frames = int(lines[i + 1][1])
    assert motion.shape == (n_frames, sum(len(c) for c in channels))
    return ParsedBvh(names, parents, np.array(offsets), channels, end_sites, n_frames,
                     float(lines[i + 2][2]), motion)


def elementary(axis: str, deg: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation about one axis (column vectors)."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    one, zero = np.ones_like(c), np.zeros_like(c)
    rows = {"X": [[one, zero, zero], [zero, c, -s], [zero, s, c]],
            "Y": [[c, zero, s], [zero, one, zero], [-s, zero, c]],
            "Z": [[c, -s, zero], [s, c, zero], [zero, zero, one]]}[axis]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def local_transforms(bvh: ParsedBvh) -> tuple[np.ndarray, np.ndarray]:
    """(F, K, 3, 3) channel rotations and (F, K, 3) channel positions (zeros where none)."""
    n_f, n_k = bvh.num_frames, len(bvh.names)
    rot = np.broadcast_to(np.eye(3), (n_f, n_k, 3, 3)).copy()
    pos = np.zeros((n_f, n_k, 3))
    col = 0
    for k, chans in enumerate(bvh.channels):
        for ch in chans:
            if ch.endswith("position"):
                pos[:, k, "XYZ".index(ch[0])] = bvh.motion[:, col]
            else:
                rot[:, k] = rot[:, k] @ elementary(ch[0], bvh.motion[:, col])
            col += 1
    return rot, pos


def forward_kinematics(bvh: ParsedBvh) -> np.ndarray:
    """(F, K, 3) joint positions in the file's frame and units."""
    rot, pos = local_transforms(bvh)
    g_rot, g_pos = np.zeros_like(rot), np.zeros_like(pos)
    for k, p in enumerate(bvh.parents):
        if p < 0:
            g_rot[:, k], g_pos[:, k] = rot[:, k], bvh.offsets[k] + pos[:, k]
        else:
            g_rot[:, k] = g_rot[:, p] @ rot[:, k]
            g_pos[:, k] = g_pos[:, p] + np.einsum("fij,j->fi", g_rot[:, p], bvh.offsets[k])
    return g_pos


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load()


def _track_params(rng: np.random.Generator, n: int) -> SMPLXParams:
    """n frames of one person facing the camera, turning about the vertical through +-180 deg."""
    yaw = np.radians(150.0 + 25.0 * np.arange(n))  # crosses 180 deg: exercises the Euler unwrap
    upright = Rotation.from_rotvec([np.pi, 0, 0])  # SMPL-X y up -> camera y down
    tilt = 0.1 * rng.standard_normal((n, 2))
    orient = upright * Rotation.from_rotvec(np.stack([tilt[:, 0], yaw, tilt[:, 1]], 1))
    body = 0.4 * rng.standard_normal((n, 21, 3))
    body[0, 3] = [np.pi / 2, 0, 0]  # left knee at 90 deg about x: a ZXY gimbal-lock case
    betas = np.repeat(0.8 * rng.standard_normal((1, 10)), n, axis=0)  # constant shape
    fields = dict(
        global_orient=orient.as_rotvec(), body_pose=body,
        left_hand_pose=0.3 * rng.standard_normal((n, 15, 3)), right_hand_pose=0.3 * rng.standard_normal((n, 15, 3)),
        jaw_pose=0.2 * rng.standard_normal((n, 3)), leye_pose=0.1 * rng.standard_normal((n, 3)),
        reye_pose=0.1 * rng.standard_normal((n, 3)), betas=betas,
        expression=0.1 * rng.standard_normal((n, 10)), transl=[0.1, 0.3, 3.0] + 0.05 * rng.standard_normal((n, 3)),
    )
    return SMPLXParams.from_axis_angle(**{k: torch.tensor(np.asarray(v), dtype=torch.float32)
                                          for k, v in fields.items()})


@pytest.fixture(scope="module")
def recorded(model, tmp_path_factory) -> tuple[Path, dict[int, SMPLXParams]]:
    """An estimates.npz with two tracks (gaps), and the parameters that went in."""
    rng = np.random.default_rng(0)
    params = {k: _track_params(rng, len(frames)) for k, frames in TRACK_FRAMES.items()}
    with torch.no_grad():
        joints = {k: model(p).joints.numpy() for k, p in params.items()}
    writer = EstimatesWriter()
    for frame in range(10):
        persons = []
        for k, frames in TRACK_FRAMES.items():
            if frame in frames:
                row = frames.index(frame)
                persons.append(PersonEstimate(
                    track_id=k, box_xyxy=np.array([10, 20, 110 + frame, 220], np.float32), score=0.5 + 0.01 * row,
                    params=params[k].select(row), joints3d=joints[k][row], joints2d=joints[k][row, :, :2] * 500,
                    confidence=PartConfidence(body=0.9, left_hand=0.5, right_hand=0.4, face=0.8)))
        writer.add(frame, T0_S + frame / FPS, persons)
    path = writer.save(tmp_path_factory.mktemp("predict") / "estimates.npz")
    return path, params


def _rotmats(aa: np.ndarray) -> np.ndarray:
    return Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(*aa.shape[:-1], 3, 3)


# ---------------------------------------------------------------- estimates.npz


def test_estimates_round_trip(recorded) -> None:
    path, params = recorded
    raw = np.load(path, allow_pickle=False)
    assert all(raw[key].dtype != object for key in raw.files)
    assert raw["track_ids"].tolist() == [3, 7] and "track3/body_pose" in raw.files
    tracks = load_estimates(path)
    assert list(tracks) == [3, 7]
    for k, frames in TRACK_FRAMES.items():
        t = tracks[k]
        assert isinstance(t, TrackSequence) and t.track_id == k and len(t) == len(frames)
        assert t.frame.dtype == np.int64 and t.frame.tolist() == frames
        np.testing.assert_allclose(t.stamp, T0_S + np.array(frames) / FPS, rtol=0, atol=1e-12)
        assert t.body_pose.shape == (len(frames), 21, 3) and t.left_hand_pose.shape == (len(frames), 15, 3)
        assert t.joints3d.shape == (len(frames), 127, 3) and t.joints2d.shape == (len(frames), 127, 2)
        np.testing.assert_allclose(t.confidence[0], [0.9, 0.5, 0.4, 0.8], atol=1e-6)
        np.testing.assert_allclose(t.box_xyxy[:, 2], 110 + np.array(frames), atol=1e-4)
        for name in ("global_orient", "body_pose", "left_hand_pose", "jaw_pose", "reye_pose"):
            np.testing.assert_allclose(_rotmats(getattr(t, name)), getattr(params[k], name).numpy().reshape(
                _rotmats(getattr(t, name)).shape), atol=1e-5)
        np.testing.assert_allclose(t.betas, params[k].betas.numpy())
        np.testing.assert_allclose(t.transl, params[k].transl.numpy())
        again = t.to_params()
        torch.testing.assert_close(again.body_pose, params[k].body_pose, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(load_track(path, 7).frame, TRACK_FRAMES[7])


def test_estimates_errors(recorded, tmp_path) -> None:
    path, _ = recorded
    with pytest.raises(ValueError, match=r"no track with id 5; available track ids: 3, 7"):
        load_track(path, 5)
    missing = tmp_path / "nowhere" / "estimates.npz"
    with pytest.raises(FileNotFoundError, match=r"nowhere/estimates\.npz.*robosmplx predict"):
        load_estimates(missing)
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: v for k, v in np.load(path).items() if k != "track3/betas"})
    with pytest.raises(ValueError, match=r"missing array 'track3/betas'"):
        load_estimates(partial)
    not_npz = tmp_path / "text.npz"
    not_npz.write_text("hello")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_estimates(not_npz)


def test_writer_rejects_bad_order_and_duplicates(recorded) -> None:
    _, params = recorded
    person = PersonEstimate(track_id=1, box_xyxy=np.zeros(4), score=1.0, params=params[3].select(0),
                            joints3d=np.zeros((127, 3)), joints2d=np.zeros((127, 2)), confidence=PartConfidence())
    writer = EstimatesWriter()
    writer.add(5, 0.0, [person])
    with pytest.raises(ValueError, match="frame_index must increase"):
        writer.add(5, 0.1, [person])
    with pytest.raises(ValueError, match="unique within a frame"):
        writer.add(6, 0.1, [person, person])
    assert writer.arrays()["track_ids"].tolist() == [1]
    assert EstimatesWriter().arrays()["track_ids"].shape == (0,)


# ---------------------------------------------------------------- BVH


@pytest.fixture(scope="module")
def bvh_track3(recorded, model, tmp_path_factory) -> tuple[ParsedBvh, TrackSequence]:
    path, _ = recorded
    out = export_bvh_from_npz(path, 3, tmp_path_factory.mktemp("bvh") / "track3.bvh", model)
    return parse_bvh(out), load_track(path, 3)


def test_bvh_hierarchy(bvh_track3) -> None:
    bvh, _ = bvh_track3
    assert len(bvh.names) == 55 and set(bvh.names) == set(SMPLX_JOINT_NAMES)
    assert bvh.names[0] == "pelvis" and bvh.channels[0] == ["Xposition", "Yposition", "Zposition",
                                                          "Zrotation", "Xrotation", "Yrotation"]
    assert all(c == ["Zrotation", "Xrotation", "Yrotation"] for c in bvh.channels[1:])
    for k, name in enumerate(bvh.names):  # same tree as SMPL-X
        parent = SMPLX_PARENTS[SMPLX_JOINT_NAMES.index(name)]
        assert (bvh.names[bvh.parents[k]] if bvh.parents[k] >= 0 else None) == (
            SMPLX_JOINT_NAMES[parent] if parent >= 0 else None)
    ends = {bvh.names[k] for k in bvh.end_sites}
    fingertips = {f"{side}_{finger}3" for side in ("left", "right")
                  for finger in ("thumb", "index", "middle", "ring", "pinky")}
    assert ends == fingertips | {"left_foot", "right_foot", "jaw", "left_eye_smplhf", "right_eye_smplhf"}
    assert all(np.linalg.norm(v) > 0.5 for v in bvh.end_sites.values())  # cm: real tips, not zero
    np.testing.assert_allclose(bvh.offsets[0], 0.0)
    np.testing.assert_allclose(bvh.frame_time_s, 1.0 / FPS, rtol=1e-6)
    assert bvh.num_frames == 10  # frames 0..9, gaps held


def test_bvh_forward_kinematics_matches_model(bvh_track3, recorded, model) -> None:
    bvh, track = bvh_track3
    _, params = recorded
    with torch.no_grad():
        joints_cam = model(params[3]).joints[:, :55].double().numpy()  # (n, 55, 3) metres
    expected_cm = joints_cam @ CAMERA_TO_BVH.T * 100.0
    got_cm = forward_kinematics(bvh)[track.frame]  # the frames in which the track was seen
    order = [SMPLX_JOINT_NAMES.index(n) for n in bvh.names]
    err_mm = 10.0 * np.linalg.norm(got_cm - expected_cm[:, order], axis=-1)
    assert err_mm.max() < 1.0, f"max FK error {err_mm.max():.3f} mm"
    # y up: the person stands upright in the camera view, so the head is above the pelvis
    np.testing.assert_array_equal(CAMERA_TO_BVH, np.diag([1.0, -1.0, -1.0]))
    head, pelvis = bvh.names.index("head"), bvh.names.index("pelvis")
    assert np.all(got_cm[:, head, 1] > got_cm[:, pelvis, 1] + 20.0)
    # gaps (frames 4, 5) hold frame 3
    np.testing.assert_array_equal(bvh.motion[4], bvh.motion[3])
    np.testing.assert_array_equal(bvh.motion[5], bvh.motion[3])


def test_bvh_rotations_round_trip(bvh_track3) -> None:
    bvh, track = bvh_track3
    rot, _ = local_transforms(bvh)
    rot = rot[track.frame]
    full_pose = np.concatenate([track.global_orient[:, None], track.body_pose, track.jaw_pose[:, None],
                                track.leye_pose[:, None], track.reye_pose[:, None], track.left_hand_pose,
                                track.right_hand_pose], axis=1)
    expected = _rotmats(full_pose.astype(np.float64))[:, [SMPLX_JOINT_NAMES.index(n) for n in bvh.names]]
    expected[:, 0] = CAMERA_TO_BVH @ expected[:, 0]
    angle = Rotation.from_matrix((np.swapaxes(rot, -1, -2) @ expected).reshape(-1, 3, 3)).magnitude()
    assert angle.max() < 1e-4, f"max rotation error {angle.max():.2e} rad"
    # the channel order means what scipy's intrinsic upper-case order means
    angles = np.random.default_rng(1).uniform(-180, 180, (20, 3))
    ours = elementary(ROTATION_ORDER[0], angles[:, 0]) @ elementary(ROTATION_ORDER[1], angles[:, 1]) @ elementary(
        ROTATION_ORDER[2], angles[:, 2])
    np.testing.assert_allclose(ours, Rotation.from_euler(ROTATION_ORDER, angles, degrees=True).as_matrix(), atol=1e-12)
    # unwrapped: no jump of more than 180 deg between neighbouring frames (the root turns through 180)
    assert np.abs(np.diff(bvh.motion[:, 3:], axis=0)).max() < 180.0


def test_bvh_root_follows_each_frames_shape(recorded, model, tmp_path) -> None:
    """Varying betas and expression: the root is still the posed model's joints[0] per frame."""
    path, _ = recorded
    track = load_track(path, 3)
    rng = np.random.default_rng(2)
    varied = dataclasses.replace(track, betas=rng.standard_normal(track.betas.shape),
                                 expression=rng.standard_normal(track.expression.shape))
    bvh = parse_bvh(export_bvh(varied, model, tmp_path / "varied.bvh"))
    with torch.no_grad():
        pelvis = model(varied.to_params()).joints[:, 0].double().numpy()
    np.testing.assert_allclose(bvh.motion[track.frame, :3], pelvis @ CAMERA_TO_BVH.T * 100.0, atol=1e-3)  # cm


def test_bvh_options(recorded, model, tmp_path) -> None:
    path, _ = recorded
    metres = parse_bvh(export_bvh_from_npz(path, 7, tmp_path / "m.bvh", model,
                                           fps=25, include_fingers=False, units="m"))
    assert metres.names[:1] == ["pelvis"] and set(metres.names) == set(SMPLX_JOINT_NAMES[:25])  # no fingers
    assert {metres.names[k] for k in metres.end_sites} >= {"left_wrist", "right_wrist"}
    assert metres.num_frames == 7 and metres.frame_time_s == pytest.approx(0.04)
    cm = parse_bvh(export_bvh_from_npz(path, 7, tmp_path / "cm.bvh", model))
    same = [cm.names.index(n) for n in metres.names]
    np.testing.assert_allclose(cm.offsets[same] / 100.0, metres.offsets, atol=2e-6)  # 6 decimals
    np.testing.assert_allclose(cm.motion[:, :3] / 100.0, metres.motion[:, :3], atol=2e-6)
    np.testing.assert_allclose(cm.frame_time_s, 1.0 / FPS, rtol=1e-6)


def test_bvh_bad_inputs(recorded, model, tmp_path) -> None:
    path, _ = recorded
    with pytest.raises(ValueError, match=r"available track ids: 3, 7"):
        export_bvh_from_npz(path, 42, tmp_path / "x.bvh", model)
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        export_bvh_from_npz(tmp_path / "missing.npz", 3, tmp_path / "x.bvh", model)
    track = load_track(path, 3)
    with pytest.raises(ValueError, match="units"):
        export_bvh(track, model, tmp_path / "x.bvh", units="inch")
    with pytest.raises(ValueError, match="fps"):
        export_bvh(track, model, tmp_path / "x.bvh", fps=0.0)
    one = dataclasses.replace(track, **{f.name: getattr(track, f.name)[:1] for f in dataclasses.fields(track)
                                        if f.name != "track_id"})
    with pytest.raises(ValueError, match="pass fps="):
        export_bvh(one, model, tmp_path / "x.bvh")
    assert parse_bvh(export_bvh(one, model, tmp_path / "one.bvh", fps=30)).num_frames == 1
    wide = dataclasses.replace(track, betas=np.zeros((len(track), 16), np.float32))
    with pytest.raises(ValueError, match="num_betas=16"):
        export_bvh(wide, model, tmp_path / "x.bvh")
    assert not (tmp_path / "x.bvh").exists()
