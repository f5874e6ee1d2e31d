"""3DPW (von Marcard et al., ECCV 2018, "3D Poses in the Wild"), as published.

Obtain ``imageFiles.zip`` and ``sequenceFiles.zip`` from https://virtualhumans.mpi-inf.mpg.de/3DPW/
(licence required; nothing here downloads anything). Expected layout (the archives')::

    <root>/
      sequenceFiles/train/<sequence>.pkl        one pickle per sequence (also validation/, test/)
      imageFiles/<sequence>/image_00000.jpg     frame i of the sequence is image_%05d.jpg % i

Each pickle (Python 2, numpy arrays) is a dict with, per sequence: ``sequence`` (name),
``cam_intrinsics`` (3, 3) pixels, ``cam_poses`` (N, 4, 4) world -> camera (``X_cam = R X + t``,
metres, OpenCV optical frame), and per actor (lists of one or two): ``poses`` (N, 72) SMPL
axis-angle (global orient + 23 joints, in the WORLD frame), ``betas`` (10+) SMPL shape, ``trans``
(N, 3) world, ``jointPositions`` (N, 72) the 24 SMPL joints in world coordinates (metres),
``campose_valid`` (N,) whether frame i's camera pose is aligned to the image, ``poses2d``
(N, 3, 18) OpenPose COCO-18 detections (x, y, score rows), ``genders``. The N rows are already
aligned with the images (``img_frame_ids`` maps the 60 Hz arrays to image frames and is not
needed). Pickles are untrusted input: they are read only through
:func:`~robosmplx_core.data.datasets.safe_pickle.load_restricted_pickle`.

Samples: one body crop per (actor, frame) with ``campose_valid``. Labels:
    - ``joints3d``: the SMPL joints moved into the camera, mapped to the spec by name (pelvis,
      hips, knees, ankles, neck, head, shoulders, elbows, wrists; SMPL's hand joints have no
      SMPL-X counterpart and are dropped); ``pelvis3d`` is left unset (SMPL's pelvis is not
      SMPL-X's);
    - ``joints2d``: the projections of those joints (confidence 1), plus OpenPose's nose, eyes
      and ears (detections, confidence = score) for the points SMPL lacks;
    - crop box: the tight box of the projected joints and the confident detections (scaled by
      ``CropConfig.scale``);
    - params: SMPL's global orientation moved into the camera (``R @ R_global``) and its first
      21 body joints, which SMPL-X shares (``params_valid`` True for ``global_orient`` and
      ``body_pose`` only). SMPL betas are NOT SMPL-X betas and ``trans`` is the SMPL root
      offset (which needs SMPL's joint regressor to move into the camera), so ``betas`` and
      ``transl`` stay invalid, as do hands, face and eyes.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robosmplx_core.data.datasets.common import (
    PARAM_FIELDS, AdapterDataset, DatasetError, SampleError, TrainingSample, keypoints_to_spec, read_image_rgb,
    require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.datasets.safe_pickle import UnsafePickleError, load_restricted_pickle
from robosmplx_core.types import SMPLXParams

__all__ = ["THREEDPW_LAYOUT", "SMPL24_TO_SMPLX_NAMES", "OPENPOSE18_TO_SMPLX_NAMES", "ThreeDPWDataset"]

THREEDPW_LAYOUT = """<root>/
  sequenceFiles/<split>/<sequence>.pkl   (split: train, validation, test)
  imageFiles/<sequence>/image_%05d.jpg"""

SMPL24_TO_SMPLX_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "", "",
)  # fmt: skip
"""SMPL-X name of each of SMPL's 24 joints ("" for SMPL's left/right hand joints, which SMPL-X lacks)."""

OPENPOSE18_TO_SMPLX_NAMES: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear",
)  # fmt: skip
"""SMPL-X name of each OpenPose COCO-18 keypoint of ``poses2d``."""

_NAMES_2D = SMPL24_TO_SMPLX_NAMES + OPENPOSE18_TO_SMPLX_NAMES  # SMPL first: it wins where both label a joint
_VALID = np.array([name in ("global_orient", "body_pose") for name in PARAM_FIELDS])


@dataclass(frozen=True)
class _Sequence:
    name: str
    K: np.ndarray  # (3, 3)
    cam_poses: np.ndarray  # (N, 4, 4) world -> camera
    poses: list[np.ndarray]  # per actor (N, 72) SMPL axis-angle, world frame
    joints_world: list[np.ndarray]  # per actor (N, 24, 3) metres
    poses2d: list[np.ndarray | None]  # per actor (N, 18, 3) x, y, score, or None


@dataclass(frozen=True)
class _Entry:
    sequence: int
    actor: int
    frame: int


def _float_array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise SampleError("malformed_sequence", f"{what}: {e}") from e
    if arr.shape != shape:
        raise SampleError("malformed_sequence", f"{what}: expected shape {shape}, got {arr.shape}")
    return arr


def _actor_list(seq: dict, key: str, n_actors: int | None) -> list:
    value = seq.get(key)
    if not isinstance(value, (list, tuple)) or not value or (n_actors is not None and len(value) != n_actors):
        raise SampleError("malformed_sequence", f"{key}: expected a list with one entry per actor")
    return list(value)


def _parse_sequence(seq: Any, fallback_name: str) -> tuple[_Sequence, list[np.ndarray]]:
    """A loaded 3DPW pickle -> (sequence arrays, per-actor (N,) bool ``campose_valid``).

    Raises:
        SampleError: ``"malformed_sequence"`` for a missing key or inconsistent shapes.
    """
    if not isinstance(seq, dict):
        raise SampleError("malformed_sequence", f"expected a dict, got {type(seq).__name__}")
    cam_poses = np.asarray(seq.get("cam_poses", []), dtype=np.float64)
    if cam_poses.ndim != 3 or cam_poses.shape[1:] != (4, 4):
        raise SampleError("malformed_sequence", f"cam_poses: expected (N, 4, 4), got {cam_poses.shape}")
    n = len(cam_poses)
    poses = _actor_list(seq, "poses", None)
    n_actors = len(poses)
    joints = _actor_list(seq, "jointPositions", n_actors)
    valid = _actor_list(seq, "campose_valid", n_actors)
    poses2d = seq.get("poses2d")
    poses2d = list(poses2d) if isinstance(poses2d, (list, tuple)) and len(poses2d) == n_actors else [None] * n_actors
    out_poses, out_joints, out_2d, out_valid = [], [], [], []
    for a in range(n_actors):
        out_poses.append(_float_array(poses[a], (n, 72), f"poses[{a}]"))
        out_joints.append(_float_array(joints[a], (n, 72), f"jointPositions[{a}]").reshape(n, 24, 3))
        v = np.asarray(valid[a]).reshape(-1)
        if v.shape != (n,):
            raise SampleError("malformed_sequence", f"campose_valid[{a}]: expected {n} flags, got {v.shape}")
        out_valid.append(v.astype(bool))
        p2d = np.asarray(poses2d[a], dtype=np.float64) if poses2d[a] is not None else None
        out_2d.append(p2d.transpose(0, 2, 1) if p2d is not None and p2d.shape == (n, 3, 18) else None)
    K = _float_array(seq.get("cam_intrinsics"), (3, 3), "cam_intrinsics")
    name = seq.get("sequence", fallback_name)
    name = name.decode("latin1") if isinstance(name, bytes) else str(name)
    return _Sequence(name=name, K=K, cam_poses=cam_poses, poses=out_poses, joints_world=out_joints,
                     poses2d=out_2d), out_valid


class ThreeDPWDataset(AdapterDataset):
    """3DPW frames as body :class:`TrainingSample` crops with 3D joints (see the module doc)."""

    name = "3dpw"

    def __init__(self, root: str | Path, *, split: str = "train", crop: CropConfig = CropConfig(),
                 frame_stride: int = 1) -> None:
        super().__init__(part="body")
        if split not in ("train", "validation", "test") or frame_stride < 1:
            raise ValueError(f"ThreeDPWDataset: expected split in (train, validation, test) and frame_stride >= 1, "
                             f"got {split!r}, {frame_stride}")
        self.root = require_dir(Path(root), THREEDPW_LAYOUT, "3DPW root")
        self.image_dir = require_dir(self.root / "imageFiles", THREEDPW_LAYOUT, "3DPW images")
        seq_dir = require_dir(self.root / "sequenceFiles" / split, THREEDPW_LAYOUT, f"3DPW {split} sequences")
        files = sorted(seq_dir.glob("*.pkl"))
        if not files:
            raise DatasetError(f"3DPW {split} sequences: no .pkl files in {seq_dir}; extract sequenceFiles.zip "
                               f"there. Expected layout:\n{THREEDPW_LAYOUT}")
        self.crop_config = crop
        self.sequences: list[_Sequence] = []
        for path in files:
            self._index_sequence(path, frame_stride)

    def _index_sequence(self, path: Path, frame_stride: int) -> None:
        try:
            seq, valid = _parse_sequence(load_restricted_pickle(path), path.stem)
        except UnsafePickleError:
            return self.skip("unsafe_pickle")
        except SampleError as e:
            return self.skip(e.reason)
        except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError, IndexError):
            return self.skip("unreadable_sequence")
        index = len(self.sequences)
        self.sequences.append(seq)
        R, t = seq.cam_poses[:, :3, :3], seq.cam_poses[:, :3, 3]
        for a, joints in enumerate(seq.joints_world):
            cam = np.einsum("nij,nkj->nki", R, joints) + t[:, None, :]
            ok = np.isfinite(cam).all(axis=(1, 2)) & (cam[..., 2] > 0).all(axis=1) \
                & np.isfinite(seq.poses[a]).all(axis=1) & np.isfinite(seq.cam_poses).all(axis=(1, 2))
            for frame in range(0, len(cam), frame_stride):
                if not valid[a][frame]:
                    self.skip("invalid_campose")
                elif not ok[frame]:
                    self.skip("malformed_annotation")
                else:
                    self.entries.append(_Entry(sequence=index, actor=a, frame=frame))

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        seq = self.sequences[entry.sequence]
        image = read_image_rgb(self.image_dir / seq.name / f"image_{entry.frame:05d}.jpg")
        T = seq.cam_poses[entry.frame]
        joints_cam = seq.joints_world[entry.actor][entry.frame] @ T[:3, :3].T + T[:3, 3]
        uvw = joints_cam @ seq.K.T
        uv = uvw[:, :2] / uvw[:, 2:]
        det = seq.poses2d[entry.actor]
        det = det[entry.frame] if det is not None else np.zeros((18, 3))
        det_conf = np.where(np.isfinite(det).all(axis=1), np.clip(det[:, 2], 0.0, 1.0), 0.0)
        det_xy = np.where(det_conf[:, None] > 0, det[:, :2], 0.0)
        j2d, c2d = keypoints_to_spec(np.concatenate([uv, det_xy]), np.concatenate([np.ones(24), det_conf]),
                                     _NAMES_2D, "body")
        j3d, c3d = keypoints_to_spec(joints_cam, np.ones(24), SMPL24_TO_SMPLX_NAMES, "body")
        pts = np.concatenate([uv, det_xy[det_conf > 0]])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        if (hi - lo).max() < self.crop_config.min_box_px:
            raise SampleError("tiny_box", f"{seq.name} frame {entry.frame}")
        labels = PartLabels(joints2d=j2d, joints2d_conf=c2d, joints3d=j3d, joints3d_conf=c3d,
                            params=self._params(seq, entry), params_valid=_VALID, K=seq.K)
        crop = CropTransform.from_box_xywh([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="body", source=self.name, index=index)

    @staticmethod
    def _params(seq: _Sequence, entry: _Entry) -> SMPLXParams:
        """Global orientation in the camera frame and SMPL's first 21 body joints (B = 1)."""
        pose = seq.poses[entry.actor][entry.frame]
        params = SMPLXParams.from_axis_angle(global_orient=pose[None, :3], body_pose=pose[None, 3:66])
        R = torch.as_tensor(seq.cam_poses[entry.frame, :3, :3], dtype=params.global_orient.dtype)
        return dataclasses.replace(params, global_orient=R @ params.global_orient)
