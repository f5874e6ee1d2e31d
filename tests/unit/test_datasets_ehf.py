"""EHF adapter on tiny fixture files in the published layout (image, OpenPose json, PLY mesh)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.data.datasets.common import DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.ehf import EHF_CAMERA_ROTVEC, EHF_CAMERA_T, EHF_K, EHFDataset, read_ply_vertices
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names
R = cv2.Rodrigues(EHF_CAMERA_ROTVEC)[0]


def _verts_cam() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.column_stack([rng.uniform(-0.3, 0.3, 50), rng.uniform(-0.8, 0.8, 50), rng.uniform(2.3, 2.5, 50)])


def _write_ply(path: Path, verts: np.ndarray, binary: bool) -> None:
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0", "comment fixture",
              f"element vertex {len(verts)}", "property float x", "property float y", "property float z",
              "property uchar red", "element face 0", "property list uchar int vertex_indices", "end_header"]
    head = ("\n".join(header) + "\n").encode()
    if binary:
        rec = np.zeros(len(verts), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1")])
        rec["x"], rec["y"], rec["z"] = verts.T
        path.write_bytes(head + rec.tobytes())
    else:
        path.write_bytes(head + "".join(f"{x} {y} {z} 7\n" for x, y, z in verts).encode())


def _openpose() -> dict:
    body = np.zeros((25, 3))
    body[4] = (700.0, 500.0, 0.9)  # right wrist
    body[8] = (790.0, 600.0, 0.8)  # MidHip -> pelvis
    left = np.zeros((21, 3))
    left[:5] = [(900.0 + i, 500.0 + 2 * i, 0.7) for i in range(5)]
    return {"version": 1.3, "people": [{"pose_keypoints_2d": body.reshape(-1).tolist(),
                                        "hand_left_keypoints_2d": left.reshape(-1).tolist(),
                                        "hand_right_keypoints_2d": [], "face_keypoints_2d": [0.0] * 210}]}


def _write(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    world = (_verts_cam() - EHF_CAMERA_T) @ R  # inverse of X_cam = R X + t
    for i, frame in enumerate(("01", "02", "03", "04")):
        cv2.imwrite(str(root / f"{frame}_img.jpg"), np.full((1200, 1600, 3), 90, np.uint8))
        (root / f"{frame}_2Djnt.json").write_text(json.dumps(_openpose()))
        if frame != "04":
            _write_ply(root / f"{frame}_align.ply", world, binary=i % 2 == 0)
    (root / "03_align.ply").write_bytes(b"ply\nformat ascii 1.0\nend_header\n")  # malformed mesh
    return root


def test_ply_reader_binary_and_ascii(tmp_path: Path) -> None:
    v = _verts_cam()
    for binary in (True, False):
        _write_ply(tmp_path / "m.ply", v, binary)
        np.testing.assert_allclose(read_ply_vertices(tmp_path / "m.ply"), v, atol=1e-6)


def test_mesh_crop_and_openpose_keypoints(tmp_path: Path) -> None:
    ds = EHFDataset(_write(tmp_path), crop=CropConfig(size=64, scale=1.0))
    assert len(ds) == 3 and ds.skipped == {"missing_annotation": 1}
    np.testing.assert_allclose(ds.vertices(0), _verts_cam(), atol=1e-5)
    uvw = _verts_cam() @ EHF_K.T
    uv = uvw[:, :2] / uvw[:, 2:]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    side = (hi - lo).max()
    x0, y0 = (lo + hi) / 2 - side / 2
    s = ds[1]  # ascii mesh
    rw = BODY.index("right_wrist")
    np.testing.assert_allclose(s.joints2d[rw].numpy(), [(700 - x0) * 64 / side, (500 - y0) * 64 / side], atol=1e-3)
    assert s.joints2d_conf[rw] == pytest.approx(0.9) and s.joints2d_conf[BODY.index("pelvis")] == pytest.approx(0.8)
    assert s.joints2d_conf[BODY.index("nose")] == 0 and s.has_intrinsics and not s.has_joints3d
    assert s.boxes_valid.tolist() == [True, False, False]
    np.testing.assert_allclose(s.K.numpy()[0, 0], EHF_K[0, 0] * 64 / side, rtol=1e-5)
    s2 = ds[2]  # malformed mesh -> skipped, wraps to frame 01
    assert s2.index == 0 and ds.skipped["malformed_mesh"] == 1


def test_missing_root_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="NN_align.ply"):
        EHFDataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no NN_img.jpg"):
        EHFDataset(tmp_path)
