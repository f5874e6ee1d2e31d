"""InterHand2.6M (Moon et al., ECCV 2020), as published (v1.0, 5 or 30 fps).

Obtain the images and annotations from https://mks0601.github.io/InterHand2.6M/ (CC-BY-NC 4.0;
nothing here downloads anything). Expected layout (the release's)::

    <root>/
      annotations/<split>/InterHand2.6M_<split>_data.json      COCO json, see below
      annotations/<split>/InterHand2.6M_<split>_camera.json
      annotations/<split>/InterHand2.6M_<split>_joint_3d.json
      annotations/<split>/InterHand2.6M_<split>_MANO_NeuralAnnot.json   (optional, not read)
      images/<split>/Capture0/<seq_name>/cam400002/image0000.jpg ...     (= images/<split>/<file_name>)

with ``<split>`` one of train, val, test. ``*_data.json`` holds ``images`` (``id``, ``file_name``
relative to ``images/<split>/``, ``capture``, ``camera`` (a name), ``frame_idx``, ...) and
``annotations`` (``id``, ``image_id``, ``bbox`` x, y, w, h of the hand(s), ``joint_valid``
(42 x 1), ``hand_type`` "right" | "left" | "interacting"). ``*_camera.json`` maps the capture id
to ``campos`` / ``camrot`` / ``focal`` / ``princpt``, each keyed by camera name;
``*_joint_3d.json`` maps capture id -> frame idx -> ``{"world_coord": 42 x 3, ...}`` (or the bare
42 x 3 list of the first release). Coordinates are world millimetres; a camera sees
``X_cam = camrot @ (X_world - campos)`` (OpenCV optical frame) and pixels ``focal * X / Z + princpt``.

The 42 joints are the right hand (0-20) then the left (21-41), each as thumb, index, middle,
ring, pinky from the TIP to the first joint (4, 3, 2, 1), then the wrist. They are mapped by name
onto the Hand spec (FreiHAND order: wrist, then each finger from its first joint to the tip).
As in the official loader, a hand whose wrist is not valid has no valid joint.

Samples: one hand crop per hand named by ``hand_type`` (both for "interacting") with at least
``min_valid_joints`` valid joints; the box is the tight box of that hand's valid projected
joints (scaled by ``CropConfig.scale``; the annotation's ``bbox`` spans both hands of an
interacting pair and is not used). Left hands are MIRRORED into right hands (``crop``), their 3D
joints mirrored by ``diag(-1, 1, 1)``. ``joints2d_conf`` / ``joints3d_conf`` are ``joint_valid``.
The MANO NeuralAnnot fits are not turned into SMPL-X parameters (as for FreiHAND: the MANO pose
convention and mean hand must first be checked against a MANO layer, and MANO betas are not
SMPL-X betas), so ``params_valid`` is all False.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robosmplx_core.body_model.keypoint_sets import SMPLX_LEFT_HAND21_NAMES, SMPLX_RIGHT_HAND21_NAMES
from robosmplx_core.data.datasets.coco_wholebody import swap_sides
from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, SampleError, TrainingSample, keypoints_to_spec, read_image_rgb, read_json,
    require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample

__all__ = ["INTERHAND_LAYOUT", "INTERHAND_RIGHT_TO_SMPLX_NAMES", "InterHandDataset", "interhand_world_to_camera"]

INTERHAND_LAYOUT = """<root>/
  annotations/<split>/InterHand2.6M_<split>_data.json
  annotations/<split>/InterHand2.6M_<split>_camera.json
  annotations/<split>/InterHand2.6M_<split>_joint_3d.json
  images/<split>/<file_name from the data json>   (Capture*/<seq_name>/cam*/image*.jpg)"""


def _hand_names(names21: tuple[str, ...]) -> tuple[str, ...]:
    """InterHand's per-hand order (each finger tip -> first joint, then the wrist) from the SMPL-X
    21 names (wrist, then each finger first joint -> tip)."""
    fingers = [list(reversed(names21[1 + 4 * f: 5 + 4 * f])) for f in range(5)]
    return tuple(n for finger in fingers for n in finger) + (names21[0],)


INTERHAND_RIGHT_TO_SMPLX_NAMES: tuple[str, ...] = _hand_names(SMPLX_RIGHT_HAND21_NAMES)
"""SMPL-X name of each of InterHand's right-hand joints 0-20 (joint 0 = ``right_thumb``, the tip)."""
_LEFT_NAMES = _hand_names(SMPLX_LEFT_HAND21_NAMES)
_WRIST = 20  # within one hand's 21
_SIDES = {"right": (0, False), "left": (21, True)}  # first index of the hand among the 42, mirrored


def interhand_world_to_camera(world_mm: np.ndarray, camrot: np.ndarray, campos_mm: np.ndarray) -> np.ndarray:
    """(N, 3) world millimetres -> (N, 3) camera metres: ``camrot @ (X - campos) / 1000``."""
    diff = np.asarray(world_mm, np.float64) - np.asarray(campos_mm, np.float64).reshape(1, 3)
    return diff @ np.asarray(camrot, np.float64).reshape(3, 3).T / 1000.0


@dataclass(frozen=True)
class _Entry:
    file_name: str
    joints_cam_m: np.ndarray  # (21, 3) float32, this hand only
    valid: np.ndarray  # (21,) float32
    K: np.ndarray  # (3, 3), shared per camera
    flip: bool


class InterHandDataset(AdapterDataset):
    """InterHand2.6M hands as right-hand :class:`TrainingSample` crops with 3D joints (module doc)."""

    name = "interhand26m"

    def __init__(self, root: str | Path, *, split: str = "train", crop: CropConfig = CropConfig(scale=1.5),
                 min_valid_joints: int = 6) -> None:
        super().__init__(part="hand")
        if split not in ("train", "val", "test") or not 1 <= min_valid_joints <= 21:
            raise ValueError(f"InterHandDataset: expected split in (train, val, test) and 1 <= min_valid_joints "
                             f"<= 21, got {split!r}, {min_valid_joints}")
        self.root = require_dir(Path(root), INTERHAND_LAYOUT, "InterHand2.6M root")
        self.image_dir = require_dir(self.root / "images" / split, INTERHAND_LAYOUT, f"InterHand2.6M {split} images")
        ann_dir = require_dir(self.root / "annotations" / split, INTERHAND_LAYOUT, "InterHand2.6M annotations")
        self.crop_config = crop
        self.min_valid_joints = min_valid_joints
        data, cameras, joints = (read_json(ann_dir / f"InterHand2.6M_{split}_{kind}.json", INTERHAND_LAYOUT,
                                           f"InterHand2.6M {split} {kind}") for kind in ("data", "camera", "joint_3d"))
        if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
                or not isinstance(data.get("annotations"), list) or not isinstance(cameras, dict) \
                or not isinstance(joints, dict):
            raise DatasetError(f"InterHand2.6M {split}: the data json needs 'images' and 'annotations' lists and the "
                               f"camera / joint_3d jsons must be objects; re-extract the annotations. "
                               f"Expected layout:\n{INTERHAND_LAYOUT}")
        images = {img.get("id"): img for img in data["images"] if isinstance(img, dict)}
        self._K: dict[tuple[str, str], np.ndarray] = {}
        for ann in data["annotations"]:
            try:
                self._index(ann, images, cameras, joints)
            except SampleError as e:
                self.skip(e.reason)
            except (KeyError, TypeError, ValueError, AttributeError):
                self.skip("malformed_annotation")

    def _camera(self, cameras: dict, capture: str, cam: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(camrot (3, 3), campos (3,) mm, K (3, 3)) of one camera."""
        c = cameras.get(capture)
        if not isinstance(c, dict) or cam not in c.get("campos", {}):
            raise SampleError("missing_camera", f"capture {capture} camera {cam}")
        rot = np.asarray(c["camrot"][cam], np.float64).reshape(3, 3)
        pos = np.asarray(c["campos"][cam], np.float64).reshape(3)
        f, p = np.asarray(c["focal"][cam], np.float64).reshape(2), np.asarray(c["princpt"][cam], np.float64).reshape(2)
        if not (np.isfinite(rot).all() and np.isfinite(pos).all() and np.isfinite(p).all() and (f > 0).all()):
            raise SampleError("malformed_camera", f"capture {capture} camera {cam}")
        K = self._K.setdefault((capture, cam), np.array([[f[0], 0.0, p[0]], [0.0, f[1], p[1]], [0.0, 0.0, 1.0]]))
        return rot, pos, K

    def _index(self, ann: Any, images: dict, cameras: dict, joints: dict) -> None:
        img = images.get(ann.get("image_id")) if isinstance(ann, dict) else None
        if img is None:
            raise SampleError("unknown_image_id")
        hand_type = ann.get("hand_type")
        sides = {"right": ("right",), "left": ("left",), "interacting": ("right", "left")}.get(hand_type)
        if sides is None:
            raise SampleError("malformed_annotation", f"hand_type {hand_type!r}")
        capture, cam = str(img["capture"]), str(img["camera"])
        world = joints.get(capture, {}).get(str(img["frame_idx"]))
        if isinstance(world, dict):
            world = world.get("world_coord")
        if world is None:
            raise SampleError("missing_joint_3d")
        rot, pos, K = self._camera(cameras, capture, cam)
        joints_cam = interhand_world_to_camera(np.asarray(world, np.float64).reshape(42, 3), rot, pos)
        valid = np.asarray(ann["joint_valid"], np.float32).reshape(42)
        for side in sides:
            start, flip = _SIDES[side]
            hand, v = joints_cam[start:start + 21], valid[start:start + 21] * valid[start + _WRIST]
            v = np.where(np.isfinite(hand).all(axis=1) & (hand[:, 2] > 0), np.clip(v, 0.0, 1.0), 0.0)
            if int((v > 0).sum()) < self.min_valid_joints:
                self.skip("too_few_valid_joints")
                continue
            self.entries.append(_Entry(file_name=str(img["file_name"]), joints_cam_m=hand.astype(np.float32),
                                       valid=v.astype(np.float32), K=K, flip=flip))

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        image = read_image_rgb(self.image_dir / entry.file_name)
        joints = entry.joints_cam_m.astype(np.float64)
        uvw = joints @ entry.K.T
        uv = uvw[:, :2] / uvw[:, 2:]
        names = swap_sides(_LEFT_NAMES) if entry.flip else INTERHAND_RIGHT_TO_SMPLX_NAMES
        j2d, c2d = keypoints_to_spec(uv, entry.valid, names, "hand")
        j3d, c3d = keypoints_to_spec(joints, entry.valid, names, "hand")
        pts = uv[entry.valid > 0]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        if (hi - lo).max() < self.crop_config.min_box_px:
            raise SampleError("tiny_box", entry.file_name)
        labels = PartLabels(joints2d=j2d, joints2d_conf=c2d, joints3d=j3d, joints3d_conf=c3d, K=entry.K)
        crop = CropTransform.from_box_xywh([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], self.crop_config,
                                           flip=entry.flip)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="hand", source=self.name, index=index)
