"""Stirling/ESRC adapter on tiny fixtures in the published layout (photos, .obj scans, .lnd landmarks)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.data.datasets.common import DatasetError, SampleError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.stirling import (
    STIRLING_LANDMARK_FACE_INDICES, STIRLING_LANDMARK_NAMES, StirlingDataset, read_lnd_landmarks, read_obj_mesh,
)
from robosmplx_core.eval.align import fit_similarity
from robosmplx_core.eval.surface import rmse_3d_mm
from robosmplx_core.nets.specs import part_spec

# Made-up landmarks (mm): eye corners, nose bottom, mouth corners; scan frame x = subject's left, y up.
LANDMARKS_MM = np.array([[-45.0, 30, 0], [-15, 30, 5], [15, 30, 5], [45, 30, 0], [0, -10, 20], [-25, -40, 5],
                         [25, -40, 5]])
CENTRE_MM = np.array([0.0, 2.0, 15.5])  # nose bottom + 0.3 (inner-eye midpoint - nose bottom)
RADIUS_MM = 1.2 * (90.0 + np.hypot(40.0, 15.0)) / 2  # 79.63: 1.2 (outer eye distance + nose length) / 2
EXTRA_MM = CENTRE_MM + np.array([[79.0, 0, 0], [81.0, 0, 0], [0, 0, -200.0]])  # inside, outside, far
VERTS_MM = np.concatenate([LANDMARKS_MM, EXTRA_MM])


def _obj(verts: np.ndarray) -> str:
    lines = ["# fixture scan", "mtllib scan.mtl"] + [f"v {x:.4f} {y:.4f} {z:.4f} 0.5 0.5 0.5" for x, y, z in verts]
    lines += ["vt 0.1 0.2", "vn 0 0 1", "f 1/1/1 2/1/1 3/1/1 4/1/1", "f -3 -2 -1"]
    return "\n".join(lines) + "\n"


def _lnd(points: np.ndarray) -> str:
    return "".join(f"{i + 1} {x:g} {y:g} {z:g}\n" for i, (x, y, z) in enumerate(points)) + "\n"


def _write(root: Path) -> Path:
    photos = root / "Subset_2D_FG2018" / "HQ"
    photos.mkdir(parents=True)
    for folder in ("F_3D_N", "M_3D_N", "annotations/F_3D_N", "annotations/M_3D_N"):
        (root / folder).mkdir(parents=True)
    image = np.full((60, 40, 3), 90, np.uint8)
    image[29:32, 19:22] = (0, 0, 255)  # BGR red block centred on pixel (r=30, c=20)
    for name in ("F1001_01.jpg", "F1001_02.jpg", "F1004b_03.jpg", "X9_01.jpg", "m1002_01.jpg"):
        cv2.imwrite(str(photos / name), image)
    (photos / "F1005_01.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (photos / "readme.txt").write_text("not a photo")
    (root / "F_3D_N" / "F1001_N.obj").write_text(_obj(VERTS_MM))
    (root / "annotations/F_3D_N/F1001_N.lnd").write_text(_lnd(LANDMARKS_MM))
    (root / "F_3D_N" / "f1004b_N.obj").write_text(_obj(VERTS_MM))  # lower-case id, as in the release
    (root / "annotations/F_3D_N/f1004b_N.lnd").write_text("1 0 0 0\n2 0 0 0\n")  # 2 rows: malformed
    (root / "F_3D_N" / "F1005_N.obj").write_text("v 1 2 x\n")  # malformed scan
    (root / "annotations/F_3D_N/F1005_N.lnd").write_text(_lnd(LANDMARKS_MM))
    return root


def test_landmark_names_index_the_face_spec() -> None:
    face = part_spec("face").joint_names
    assert tuple(face[i] for i in STIRLING_LANDMARK_FACE_INDICES) == STIRLING_LANDMARK_NAMES
    assert STIRLING_LANDMARK_NAMES[0] == "right_eye1" and STIRLING_LANDMARK_NAMES[4] == "nose_middle"


def test_readers_parse_obj_and_lnd(tmp_path: Path) -> None:
    (tmp_path / "s.obj").write_text(_obj(VERTS_MM))
    v, f = read_obj_mesh(tmp_path / "s.obj")
    np.testing.assert_allclose(v, VERTS_MM, atol=1e-4)
    assert f.tolist() == [[0, 1, 2], [0, 2, 3], [7, 8, 9]]  # quad fan-triangulated; negative = relative
    (tmp_path / "a.lnd").write_text(_lnd(LANDMARKS_MM))
    (tmp_path / "b.lnd").write_text("".join(f"{x} {y} {z}\n" for x, y, z in LANDMARKS_MM))  # no index column
    for name in ("a.lnd", "b.lnd"):
        np.testing.assert_allclose(read_lnd_landmarks(tmp_path / name), LANDMARKS_MM)
    (tmp_path / "bad.obj").write_text("v 0 0 0\nf 1 2 3\n")
    with pytest.raises(SampleError) as info:
        read_obj_mesh(tmp_path / "bad.obj")
    assert info.value.reason == "malformed_scan"


def test_whole_photo_crop_and_indexing(tmp_path: Path) -> None:
    ds = StirlingDataset(_write(tmp_path), crop=CropConfig(size=64, scale=1.0))
    assert len(ds) == 3 and ds.skipped == {"malformed_landmarks": 1, "unknown_subject": 1, "missing_scan": 1}
    assert [ds.subject(i) for i in range(3)] == ["F1001", "F1001", "F1005"]
    s = ds[0]
    assert s.part == "face" and s.source == "stirling" and s.index == 0
    # 40 x 60 photo -> square side 60 about (20, 30): x0 = -10, zoom 64 / 60; red centre (20.5, 30.5) -> 32.5
    red = s.image[0] - s.image[1]
    r, c = divmod(int(red.flatten().argmax()), 64)
    assert abs(r - 32) <= 1 and abs(c - 32) <= 1
    assert float(s.image[:, :, :10].max()) == 0.0 and float(s.image[:, :8, 12:52].min()) > 0.2  # pad, photo
    assert float(s.joints2d_conf.sum()) == 0 and not s.joints_visible.any() and not s.boxes_valid.any()
    assert not s.has_intrinsics and not s.has_joints3d and not s.has_params


def test_corrupt_photo_and_scan_are_skipped_and_counted(tmp_path: Path) -> None:
    ds = StirlingDataset(_write(tmp_path), crop=CropConfig(size=32, scale=1.0))
    s = ds[2]  # F1005_01.jpg is corrupt -> the next readable entry (wraps to 0)
    assert s.index == 0 and ds.skipped["unreadable_image"] == 1
    assert ds.scan(2) is None and ds.skipped["malformed_scan"] == 1
    assert ds.scan(0) is ds.scan(1)  # one subject, one cached scan


def test_scan_in_metres_feeds_the_3drmse_recipe(tmp_path: Path) -> None:
    scan = StirlingDataset(_write(tmp_path)).scan(0)
    assert scan is not None and scan.subject == "F1001"
    np.testing.assert_allclose(scan.vertices, VERTS_MM / 1000, atol=1e-7)
    np.testing.assert_allclose(scan.landmarks, LANDMARKS_MM / 1000)
    assert scan.faces.shape == (3, 3) and scan.faces.dtype == np.int64
    assert scan.evaluation_mask().tolist() == [True] * 7 + [True, False, False]
    assert RADIUS_MM == pytest.approx(79.63, abs=0.01)
    # A prediction in other units and pose: similarity transform of the scan, 2 mm off the surface.
    theta = 0.4
    rot = np.array([[np.cos(theta), 0, np.sin(theta)], [0, 1, 0], [-np.sin(theta), 0, np.cos(theta)]])
    pred_lm = 3.0 * scan.landmarks @ rot.T + [0.1, -0.2, 2.0]
    pred_verts = 3.0 * (scan.vertices + [0, 0, 0.002]) @ rot.T + [0.1, -0.2, 2.0]
    tf = fit_similarity(pred_lm[None], scan.landmarks[None])
    aligned = tf.apply(pred_verts[None])
    gt = scan.vertices[scan.evaluation_mask()][None]
    assert float(rmse_3d_mm(aligned, gt, procrustes=False)[0]) == pytest.approx(2.0, abs=1e-6)


def test_missing_folders_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="Subset_2D_FG2018"):
        StirlingDataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="Subset_2D_FG2018/HQ"):
        StirlingDataset(tmp_path)
    (tmp_path / "Subset_2D_FG2018" / "HQ").mkdir(parents=True)
    with pytest.raises(DatasetError, match="annotations"):
        StirlingDataset(tmp_path)
    (tmp_path / "annotations").mkdir()
    with pytest.raises(DatasetError, match="F_3D_N"):
        StirlingDataset(tmp_path)
    (tmp_path / "F_3D_N").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        StirlingDataset(tmp_path)
    with pytest.raises(ValueError, match="quality"):
        StirlingDataset(tmp_path, quality="MQ")
