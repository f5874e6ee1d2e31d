"""Human3.6M (Ionescu et al., TPAMI 2014) in the I2L-MeshNet / Hand4Whole preprocessed layout.

Obtain the videos from http://vision.imar.ro/human3.6m (registration and licence required) and
the preprocessed frames and annotations distributed with I2L-MeshNet / Hand4Whole
(https://github.com/mks0601/I2L-MeshNet_RELEASE, "Human36M" data); nothing here downloads
anything. Expected layout::

    <root>/
      images/s_01_act_02_subact_01_ca_01/s_01_act_02_subact_01_ca_01_000001.jpg ...
      annotations/Human36M_subject1_data.json      COCO json, see below
      annotations/Human36M_subject1_camera.json    {"<cam_idx>": {"R": 3x3, "t": [3] mm, "f": [2], "c": [2]}}
      annotations/Human36M_subject1_joint_3d.json  {"<action_idx>": {"<subaction_idx>": {"<frame_idx>": 17 x 3 mm}}}
      (the same three files for subjects 5, 6, 7, 8, 9, 11)

``*_data.json`` holds ``images`` (``id``, ``file_name`` relative to ``images/``, ``width``,
``height``, ``subject``, ``action_idx``, ``subaction_idx``, ``cam_idx``, ``frame_idx``) and
``annotations`` (``id``, ``image_id``, ``bbox`` x, y, w, h). Joints are in world coordinates
(millimetres); the camera frame is ``X_cam = R X_world + t`` (OpenCV optical frame) and pixels
are ``f * X / Z + c``. The 17 joints (Pelvis, R_Hip, R_Knee, R_Ankle, L_Hip, L_Knee, L_Ankle,
Torso, Neck, Nose, Head, L_Shoulder, L_Elbow, L_Wrist, R_Shoulder, R_Elbow, R_Wrist) are mapped
by name onto the spec as Hand4Whole does (Nose -> SMPL-X nose, Neck -> neck); Torso and Head
(the head top) have no SMPL-X joint and are dropped. All joints are labelled (confidence 1);
``pelvis3d`` is H3.6M's pelvis, which differs from the SMPL-X pelvis by a few cm (so
``has_pelvis3d`` is False). NeuralAnnot SMPL-X fits of Human3.6M are not joined yet.

Training uses subjects 1, 5, 6, 7, 8 (protocol 2 tests on 9 and 11) and, like I2L-MeshNet, every
5th frame (``frame_stride``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, SampleError, TrainingSample, keypoints_to_spec, read_image_rgb, read_json,
    require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample

__all__ = ["HUMAN36M_LAYOUT", "H36M_JOINT_NAMES", "H36M_TO_SMPLX_NAMES", "Human36MDataset", "world_to_camera"]

HUMAN36M_LAYOUT = """<root>/
  images/<file_name from the data json>.jpg
  annotations/Human36M_subject<S>_data.json
  annotations/Human36M_subject<S>_camera.json
  annotations/Human36M_subject<S>_joint_3d.json"""

H36M_JOINT_NAMES = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
                    "Head", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist")
H36M_TO_SMPLX_NAMES = ("pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "",
                       "neck", "nose", "", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
                       "right_elbow", "right_wrist")
"""SMPL-X name of each H3.6M joint ("" = none)."""


def world_to_camera(joints_world_mm: np.ndarray, R: np.ndarray, t_mm: np.ndarray) -> np.ndarray:
    """(N, 3) world millimetres -> (N, 3) camera metres: ``(R X + t) / 1000``."""
    cam_mm = np.asarray(joints_world_mm, np.float64) @ np.asarray(R, np.float64).T + np.asarray(t_mm).reshape(3)
    return cam_mm / 1000.0


@dataclass(frozen=True)
class _Entry:
    file_name: str
    joints_cam_m: np.ndarray  # (17, 3)
    K: np.ndarray  # (3, 3)
    bbox_xywh: np.ndarray | None


class Human36MDataset(AdapterDataset):
    """Human3.6M body crops with 3D joints (see the module doc)."""

    name = "human36m"

    def __init__(self, root: str | Path, *, subjects: Sequence[int] = (1, 5, 6, 7, 8), frame_stride: int = 5,
                 crop: CropConfig = CropConfig()) -> None:
        super().__init__(part="body")
        if frame_stride < 1 or not subjects:
            raise ValueError(f"Human36MDataset: expected frame_stride >= 1 and some subjects, got {frame_stride}, "
                             f"{list(subjects)}")
        self.root = require_dir(Path(root), HUMAN36M_LAYOUT, "Human3.6M root")
        self.image_dir = require_dir(self.root / "images", HUMAN36M_LAYOUT, "Human3.6M images")
        require_dir(self.root / "annotations", HUMAN36M_LAYOUT, "Human3.6M annotations")
        self.crop_config = crop
        self._K: dict[tuple[int, str], np.ndarray] = {}  # one shared K per camera
        for subject in subjects:
            self._index_subject(int(subject), frame_stride)

    def _read(self, subject: int, kind: str) -> Any:
        path = self.root / "annotations" / f"Human36M_subject{subject}_{kind}.json"
        return read_json(path, HUMAN36M_LAYOUT, f"Human3.6M subject {subject} {kind}")

    def _index_subject(self, subject: int, frame_stride: int) -> None:
        data, cameras, joints = (self._read(subject, k) for k in ("data", "camera", "joint_3d"))
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise DatasetError(f"Human3.6M subject {subject}: the data json has no 'images' list. "
                               f"Expected layout:\n{HUMAN36M_LAYOUT}")
        boxes = {a.get("image_id"): a.get("bbox") for a in data.get("annotations", []) if isinstance(a, dict)}
        for img in data["images"]:
            try:
                if int(img["frame_idx"]) % frame_stride:
                    continue
                self._index_image(img, cameras, joints, boxes.get(img["id"]), subject)
            except SampleError as e:
                self.skip(e.reason)
            except (KeyError, TypeError, ValueError):
                self.skip("malformed_annotation")

    def _index_image(self, img: dict, cameras: dict, joints: dict, bbox: Any, subject: int) -> None:
        cam = cameras.get(str(img["cam_idx"]))
        if cam is None:
            raise SampleError("missing_camera")
        world = joints.get(str(img["action_idx"]), {}).get(str(img["subaction_idx"]), {}).get(str(img["frame_idx"]))
        if world is None:
            raise SampleError("missing_joint_3d")
        world = np.asarray(world, np.float64).reshape(17, 3)
        R = np.asarray(cam["R"], np.float64).reshape(3, 3)
        f, c = np.asarray(cam["f"], np.float64).reshape(2), np.asarray(cam["c"], np.float64).reshape(2)
        cam_m = world_to_camera(world, R, np.asarray(cam["t"], np.float64))
        if not (np.isfinite(cam_m).all() and (cam_m[:, 2] > 0).all() and (f > 0).all()):
            raise SampleError("malformed_annotation")
        K = self._K.setdefault((subject, str(img["cam_idx"])),
                               np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]]))
        box = None if bbox is None else np.asarray(bbox, np.float64).reshape(4)
        if box is not None and (not np.isfinite(box).all() or min(box[2], box[3]) < self.crop_config.min_box_px):
            raise SampleError("tiny_box")
        self.entries.append(_Entry(file_name=str(img["file_name"]), joints_cam_m=cam_m.astype(np.float32), K=K,
                                   bbox_xywh=box))

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        image = read_image_rgb(self.image_dir / entry.file_name)
        joints = entry.joints_cam_m.astype(np.float64)
        uvw = joints @ entry.K.T
        uv = uvw[:, :2] / uvw[:, 2:]
        ones = np.ones(17, np.float32)
        j2d, c2d = keypoints_to_spec(uv, ones, H36M_TO_SMPLX_NAMES, "body")
        j3d, c3d = keypoints_to_spec(joints, ones, H36M_TO_SMPLX_NAMES, "body")
        box = entry.bbox_xywh
        if box is None:  # tight box around the projected joints
            lo, hi = uv.min(axis=0), uv.max(axis=0)
            box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
        labels = PartLabels(joints2d=j2d, joints2d_conf=c2d, joints3d=j3d, joints3d_conf=c3d, K=entry.K)
        crop = CropTransform.from_box_xywh(box, self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="body", source=self.name, index=index)
