"""EHF (Pavlakos et al., CVPR 2019, the SMPL-X paper's "Expressive Hands and Faces" set), as published.

Obtain from the SMPL-X download page, https://smpl-x.is.tue.mpg.de (registration and licence
required; nothing here downloads anything). Expected layout (the archive's)::

    <root>/
      01_img.jpg ... 100_img.jpg      1600 x 1200 RGB frames
      01_2Djnt.json ...               OpenPose output: people[0].pose_keypoints_2d (BODY_25),
                                      hand_left/right_keypoints_2d (21), face_keypoints_2d (70)
      01_align.ply ...                SMPL-X mesh (10475 vertices) registered to the scan, world frame
      (01_scan.obj, 01_2Djnt.png and EHF_camera.txt are not read)

The camera is fixed; ``EHF_CAMERA`` holds its calibration (the values of ``EHF_camera.txt`` as
used by SMPLify-X, ExPose and Hand4Whole): vertices map to the camera frame as
``X_cam = R X + t`` with ``R = Rodrigues(EHF_CAMERA_ROTVEC)``. EHF is an evaluation set: the
ground truth is the mesh (:meth:`EHFDataset.vertices`); the crop is the box of the projected mesh
(scaled by ``CropConfig.scale``). ``joints2d`` are OpenPose DETECTIONS (confidence = OpenPose's
score), mapped to the spec by name (BODY_25 MidHip -> pelvis; the two pupils of the 70 face
points are dropped); hand and face boxes are the boxes of their confident detections. There are
no SMPL-X parameters and no 3D joints (regress them from :meth:`EHFDataset.vertices` with the
body model's joint regressor).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np

from robosmplx_core.data.datasets.coco_wholebody import COCO_WHOLEBODY_SMPLX_NAMES
from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, SampleError, TrainingSample, keypoints_to_spec, read_image_rgb, require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.body_model.keypoint_sets import SMPLX_LEFT_HAND21_NAMES, SMPLX_RIGHT_HAND21_NAMES

__all__ = ["EHF_LAYOUT", "EHF_K", "EHF_CAMERA_ROTVEC", "EHF_CAMERA_T", "OPENPOSE_BODY25_TO_SMPLX_NAMES",
           "EHFDataset", "read_ply_vertices", "parse_openpose"]

EHF_LAYOUT = """<root>/
  NN_img.jpg     (frames 01 .. 100)
  NN_2Djnt.json  (OpenPose keypoints)
  NN_align.ply   (SMPL-X mesh, 10475 vertices)"""

EHF_K = np.array([[1498.22426237, 0.0, 790.263706], [0.0, 1498.22426237, 578.90334], [0.0, 0.0, 1.0]])
EHF_CAMERA_ROTVEC = np.array([-2.98747896, 0.01172457, -0.05704687])
EHF_CAMERA_T = np.array([-0.03609917, 0.43416458, 2.37101226])
"""World -> camera rotation (axis-angle, radians) and translation (metres)."""

OPENPOSE_BODY25_TO_SMPLX_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
    "right_heel",
)  # fmt: skip
_FACE70 = COCO_WHOLEBODY_SMPLX_NAMES[23:91] + ("", "")
_OPENPOSE_NAMES = OPENPOSE_BODY25_TO_SMPLX_NAMES + SMPLX_LEFT_HAND21_NAMES + SMPLX_RIGHT_HAND21_NAMES + _FACE70
_OPENPOSE_KEYS = (("pose_keypoints_2d", 25), ("hand_left_keypoints_2d", 21), ("hand_right_keypoints_2d", 21),
                  ("face_keypoints_2d", 70))
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2", "ushort": "u2",
              "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4", "float": "f4",
              "float32": "f4", "double": "f8", "float64": "f8"}


def read_ply_vertices(path: Path) -> np.ndarray:
    """(V, 3) float64 vertex positions of an ascii or binary little-endian PLY file whose first
    element is ``vertex`` with scalar properties x, y, z (others are ignored).

    Raises:
        SampleError: ``"malformed_mesh"`` for anything else.
    """
    raw = Path(path).read_bytes()
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise SampleError("malformed_mesh", f"{path}: not a PLY file")
    body = raw[raw.index(b"\n", end) + 1:]
    lines = raw[:end].decode("ascii", "replace").splitlines()
    fmt = next((ln.split()[1] for ln in lines if ln.startswith("format")), "")
    props: list[tuple[str, str]] = []
    count, in_vertex = -1, False
    for ln in lines:
        tok = ln.split()
        if tok[:1] == ["element"]:
            if count >= 0 and in_vertex:
                break
            in_vertex = tok[1] == "vertex"
            count = int(tok[2]) if in_vertex else -2
        elif tok[:1] == ["property"] and in_vertex:
            if tok[1] == "list" or tok[1] not in _PLY_TYPES:
                raise SampleError("malformed_mesh", f"{path}: unsupported vertex property {ln!r}")
            props.append((tok[2], _PLY_TYPES[tok[1]]))
    names = [n for n, _ in props]
    if count < 0 or not {"x", "y", "z"} <= set(names):
        raise SampleError("malformed_mesh", f"{path}: no vertex element with x, y, z")
    try:
        if fmt == "binary_little_endian":
            rec = np.frombuffer(body, dtype=np.dtype([(n, "<" + t) for n, t in props]), count=count)
            return np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
        if fmt == "ascii":
            rows = np.array([ln.split()[:len(props)] for ln in body.decode("ascii").splitlines()[:count]], np.float64)
            return rows[:, [names.index("x"), names.index("y"), names.index("z")]].reshape(count, 3)
    except (ValueError, UnicodeDecodeError) as e:
        raise SampleError("malformed_mesh", f"{path}: {e}") from e
    raise SampleError("malformed_mesh", f"{path}: unsupported PLY format {fmt!r}")


def parse_openpose(data: object) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose json of one image -> (137, 2) pixels and (137,) scores of ``people[0]`` in the order
    BODY_25, left hand, right hand, face 70 (missing parts get score 0).

    Raises:
        SampleError: ``"malformed_keypoints"`` (no person, wrong lengths).
    """
    people = data.get("people") if isinstance(data, dict) else None
    if not people or not isinstance(people[0], dict):
        raise SampleError("malformed_keypoints", "no person in the OpenPose json")
    xy, conf = [], []
    for key, n in _OPENPOSE_KEYS:
        values = people[0].get(key, people[0].get(key.removesuffix("_2d"), []))
        try:
            arr = np.asarray(values, np.float64).reshape(n, 3) if len(values) else np.zeros((n, 3))
        except (TypeError, ValueError) as e:
            raise SampleError("malformed_keypoints", f"{key}: {e}") from e
        xy.append(arr[:, :2])
        conf.append(np.where(np.isfinite(arr).all(axis=1), arr[:, 2], 0.0))
    return np.concatenate(xy), np.clip(np.concatenate(conf), 0.0, 1.0)


def _tight_box(xy: np.ndarray, conf: np.ndarray, min_points: int = 3) -> np.ndarray | None:
    pts = xy[conf > 0]
    if len(pts) < min_points:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, max(hi - lo)])


class EHFDataset(AdapterDataset):
    """EHF frames as body :class:`TrainingSample` crops plus their GT meshes (see the module doc)."""

    name = "ehf"

    def __init__(self, root: str | Path, *, crop: CropConfig = CropConfig()) -> None:
        super().__init__(part="body")
        self.root = require_dir(Path(root), EHF_LAYOUT, "EHF root")
        self.crop_config = crop
        self.R = cv2.Rodrigues(EHF_CAMERA_ROTVEC)[0]
        for path in sorted(self.root.glob("*_img.jpg")):
            frame = re.sub(r"_img\.jpg$", "", path.name)
            missing = [s for s in ("_2Djnt.json", "_align.ply") if not (self.root / f"{frame}{s}").is_file()]
            if missing:
                self.skip("missing_annotation")
            else:
                self.entries.append(frame)
        if not self.entries and not self.skipped:
            raise DatasetError(f"EHF root {self.root} holds no NN_img.jpg frames; point it at the extracted EHF "
                               f"folder. Expected layout:\n{EHF_LAYOUT}")

    def vertices(self, index: int) -> np.ndarray:
        """(10475, 3) GT mesh of frame ``index`` in the camera frame, metres."""
        return read_ply_vertices(self.root / f"{self.entries[index]}_align.ply") @ self.R.T + EHF_CAMERA_T

    def load(self, entry: str, index: int) -> TrainingSample:
        image = read_image_rgb(self.root / f"{entry}_img.jpg")
        try:
            data = json.loads((self.root / f"{entry}_2Djnt.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SampleError("malformed_keypoints", str(e)) from e
        xy, conf = parse_openpose(data)
        verts = self.vertices(index)
        if not (np.isfinite(verts).all() and (verts[:, 2] > 0).all()):
            raise SampleError("malformed_mesh", entry)
        uvw = verts @ EHF_K.T
        uv = uvw[:, :2] / uvw[:, 2:]
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        j2d, c2d = keypoints_to_spec(xy, conf, _OPENPOSE_NAMES, "body")
        labels = PartLabels(
            joints2d=j2d, joints2d_conf=c2d, K=EHF_K,
            left_hand_box_cxcys=_tight_box(xy[25:46], conf[25:46]),
            right_hand_box_cxcys=_tight_box(xy[46:67], conf[46:67]), face_box_cxcys=_tight_box(xy[67:], conf[67:]),
        )
        crop = CropTransform.from_box_xywh([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="body", source=self.name, index=index)
