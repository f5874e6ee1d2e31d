"""Face landmark adapter (FFHQ, AffectNet, BUPT sidecar) on tiny fixtures in the published layouts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.data.datasets.coco_wholebody import COCO_WHOLEBODY_SMPLX_NAMES
from robosmplx_core.data.datasets.common import DatasetError, SampleError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.faces import IBUG68_SMPLX_NAMES, FaceLandmarkDataset, parse_ibug68
from robosmplx_core.nets.specs import part_spec

FACE = part_spec("face").joint_names
CFG = CropConfig(size=64, scale=1.0)
NOSE_TIP, CHIN = 30, 8  # iBUG-68 indices (0-based)


def _landmarks(x0: float, y0: float) -> np.ndarray:
    """68 points spread over the box [x0, x0 + 40] x [y0, y0 + 20]; nose tip and chin at known places."""
    pts = np.stack([x0 + 40 * (np.arange(68) % 17) / 16, y0 + 20 * (np.arange(68) // 17) / 3], axis=1)
    pts[NOSE_TIP] = (x0 + 10, y0 + 5)
    pts[CHIN] = (x0 + 20, y0 + 20)
    return pts


def _image(marks: np.ndarray, h: int = 80, w: int = 96) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    x, y = marks[NOSE_TIP].astype(int)
    image[y, x] = (0, 0, 255)  # BGR red at the nose tip's pixel
    return image


def _expect(marks: np.ndarray, k: int) -> np.ndarray:
    """Crop pixel of landmark k with CFG: square of side max(w, h) = 40 around the tight box's centre."""
    lo, hi = marks.min(axis=0), marks.max(axis=0)
    side = (hi - lo).max()
    return (marks[k] - ((lo + hi) / 2 - side / 2)) * 64 / side


def _ffhq_record(path: str, marks: object, category: str = "training") -> dict:
    return {"category": category, "metadata": {"license": "fixture"},
            "image": {"file_path": path, "pixel_size": [96, 80], "face_landmarks": marks},
            "thumbnail": {"file_path": "thumbnails128x128/" + path.split("/", 1)[1], "pixel_size": [128, 128]},
            "in_the_wild": {"file_path": "in-the-wild-images/" + path.split("/", 1)[1], "pixel_size": [96, 80],
                            "face_rect": [0, 0, 96, 80], "face_landmarks": (_landmarks(30, 40)).tolist()}}


def _write_ffhq(root: Path, *, corrupt: bool = False) -> Path:
    for folder in ("images1024x1024/00000", "in-the-wild-images/00000"):
        (root / folder).mkdir(parents=True)
    m0, m1 = _landmarks(20, 30), _landmarks(40, 10)
    cv2.imwrite(str(root / "images1024x1024/00000/00000.png"), _image(m0))
    cv2.imwrite(str(root / "in-the-wild-images/00000/00000.png"), _image(_landmarks(30, 40)))
    if corrupt:
        (root / "images1024x1024/00000/00001.png").write_bytes(b"\x89PNG broken")
    else:
        cv2.imwrite(str(root / "images1024x1024/00000/00001.png"), _image(m1))
    data = {"0": _ffhq_record("images1024x1024/00000/00000.png", m0.tolist()),
            "1": _ffhq_record("images1024x1024/00000/00001.png", m1.tolist(), "validation"),
            "2": _ffhq_record("images1024x1024/00000/00002.png", m0.tolist()[:67]),  # 67 points: malformed
            "3": "not a record"}
    (root / "ffhq-dataset-v2.json").write_text(json.dumps(data))
    return root


def test_ibug68_maps_onto_the_face_spec_like_coco_wholebody() -> None:
    assert IBUG68_SMPLX_NAMES == COCO_WHOLEBODY_SMPLX_NAMES[23:91]  # COCO-WholeBody's face points are iBUG-68
    assert IBUG68_SMPLX_NAMES[NOSE_TIP] == "nose4" and IBUG68_SMPLX_NAMES[CHIN] == "contour_middle"
    assert IBUG68_SMPLX_NAMES[36] == "right_eye1" and IBUG68_SMPLX_NAMES[45] == "left_eye1"
    assert IBUG68_SMPLX_NAMES[48] == "right_mouth_1" and IBUG68_SMPLX_NAMES[0] == "right_contour_1"


def test_parse_ibug68_accepts_pairs_flat_and_semicolon_strings() -> None:
    pts = np.arange(136, dtype=np.float64).reshape(68, 2)
    for value in (pts.tolist(), pts.reshape(-1).tolist(), ";".join(f"{v:g}" for v in pts.reshape(-1))):
        np.testing.assert_array_equal(parse_ibug68(value), pts)
    for bad, reason in ((None, "no_landmarks"), (pts[:67].tolist(), "malformed_landmarks"),
                        ("1;2;x", "malformed_landmarks"), ([[np.nan, 0.0]] * 68, "malformed_landmarks")):
        with pytest.raises(SampleError) as info:
            parse_ibug68(bad)
        assert info.value.reason == reason


def test_ffhq_landmarks_land_at_known_crop_pixels(tmp_path: Path) -> None:
    ds = FaceLandmarkDataset(_write_ffhq(tmp_path), layout="ffhq", crop=CFG)
    assert len(ds) == 2 and ds.skipped == {"malformed_landmarks": 1, "malformed_entry": 1}
    s, m0 = ds[0], _landmarks(20, 30)
    assert s.part == "face" and s.source == "ffhq" and s.joints2d.shape == (73, 2)
    tip, chin = FACE.index("nose4"), FACE.index("contour_middle")
    np.testing.assert_allclose(s.joints2d[tip].numpy(), _expect(m0, NOSE_TIP), atol=1e-4)
    np.testing.assert_allclose(s.joints2d[chin].numpy(), _expect(m0, CHIN), atol=1e-4)
    # box [20, 60] x [30, 50]: side 40 from (20, 20), zoom 64 / 40; nose tip (30, 35) -> (16, 24)
    np.testing.assert_allclose(_expect(m0, NOSE_TIP), [16.0, 24.0], atol=1e-9)
    red = s.image[0]
    r, c = divmod(int(red.flatten().argmax()), 64)
    assert red.max() > 0 and abs(c - 16) <= 1 and abs(r - 24) <= 1  # the red pixel sits at the nose tip
    unlabelled = [FACE.index(n) for n in ("neck", "jaw", "head", "left_eyeball", "right_eyeball")]
    assert (s.joints2d_conf[unlabelled] == 0).all() and int(s.joints2d_conf.sum()) == 68
    assert s.boxes_valid.tolist() == [False, False, True]
    np.testing.assert_allclose(s.face_box_cxcys.numpy(), [32.0, 32.0, 64.0], atol=1e-4)
    assert not s.has_params and not s.has_intrinsics and not s.has_joints3d
    assert ds.expression(0) == -1
    np.testing.assert_allclose(ds.landmarks(1), _landmarks(40, 10), atol=1e-4)


def test_ffhq_category_and_in_the_wild_variant(tmp_path: Path) -> None:
    root = _write_ffhq(tmp_path)
    ds = FaceLandmarkDataset(root, layout="ffhq", crop=CFG, category="validation")
    assert len(ds) == 1 and ds.skipped == {"malformed_entry": 1}
    np.testing.assert_allclose(ds.landmarks(0), _landmarks(40, 10), atol=1e-4)
    wild = FaceLandmarkDataset(root, layout="ffhq_in_the_wild", crop=CFG)
    assert len(wild) == 3 and wild.skipped == {"malformed_entry": 1}  # in_the_wild marks of every record
    s = wild[0]
    assert s.source == "ffhq"
    np.testing.assert_allclose(s.joints2d[FACE.index("nose4")].numpy(), _expect(_landmarks(30, 40), NOSE_TIP),
                               atol=1e-4)
    with pytest.raises(ValueError, match="category"):
        FaceLandmarkDataset(root, layout="bupt", category="training")


def test_corrupt_image_is_skipped_and_counted(tmp_path: Path) -> None:
    ds = FaceLandmarkDataset(_write_ffhq(tmp_path, corrupt=True), layout="ffhq", crop=CFG)
    s = ds[1]  # 00001.png is corrupt -> the next readable entry (wraps to 0)
    assert s.index == 0 and ds.skipped["unreadable_image"] == 1


def _write_affectnet(root: Path) -> Path:
    (root / "Manually_Annotated_file_lists").mkdir(parents=True)
    (root / "Manually_Annotated_Images" / "689").mkdir(parents=True)
    marks = _landmarks(30, 20)
    cv2.imwrite(str(root / "Manually_Annotated_Images/689/a1.jpg"), _image(marks, 120, 160))
    flat = ";".join(f"{v:.2f}" for v in marks.reshape(-1))
    rows = ["subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal",
            f"689/a1.jpg,25,15,50,30,{flat},3,0.5,-0.25",
            f"689/a2.jpg,25,15,50,30,{flat},10,-2,-2",  # Non-Face
            f"689/a3.jpg,25,15,50,30,{';'.join(flat.split(';')[:135])},1,0.1,0.1",  # 135 numbers
            "689/a4.jpg,25,15",  # truncated row
            ""]
    (root / "Manually_Annotated_file_lists" / "training.csv").write_text("\n".join(rows))
    return root


def test_affectnet_csv_landmarks_and_expression(tmp_path: Path) -> None:
    ds = FaceLandmarkDataset(_write_affectnet(tmp_path), layout="affectnet", crop=CFG)
    assert len(ds) == 1 and ds.skipped == {"non_face": 1, "malformed_landmarks": 1, "malformed_entry": 1}
    assert ds.expression(0) == 3  # happy
    s = ds[0]
    assert s.source == "affectnet"
    np.testing.assert_allclose(s.joints2d[FACE.index("nose4")].numpy(), _expect(_landmarks(30, 20), NOSE_TIP),
                               atol=1e-3)
    (tmp_path / "bad.csv").write_text("image,landmarks\nx.jpg,1;2\n")
    with pytest.raises(DatasetError, match="subDirectory_filePath"):
        FaceLandmarkDataset(tmp_path, layout="affectnet", annotation_file="bad.csv")


def test_bupt_sidecar_in_ffhq_schema(tmp_path: Path) -> None:
    folder = tmp_path / "race_per_7000" / "African" / "m.0abc"
    folder.mkdir(parents=True)
    marks = _landmarks(10, 12)
    cv2.imwrite(str(folder / "000001.jpg"), _image(marks, 64, 64))
    data = {"a": {"image": {"file_path": "race_per_7000/African/m.0abc/000001.jpg", "face_landmarks": marks.tolist()}},
            "b": {"image": {"file_path": "race_per_7000/African/m.0abc/000002.jpg", "face_landmarks": None}},
            "c": {"image": {"face_landmarks": marks.tolist()}}}
    (tmp_path / "landmarks68.json").write_text(json.dumps(data))
    ds = FaceLandmarkDataset(tmp_path, layout="bupt", crop=CFG)
    assert len(ds) == 1 and ds.skipped == {"no_landmarks": 1, "malformed_entry": 1}
    s = ds[0]
    assert s.source == "bupt"
    np.testing.assert_allclose(s.joints2d[FACE.index("contour_middle")].numpy(), _expect(marks, CHIN), atol=1e-4)


def test_missing_folders_and_files_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="ffhq-dataset-v2.json"):
        FaceLandmarkDataset(tmp_path / "nowhere", layout="ffhq")
    with pytest.raises(DatasetError, match="images1024x1024"):
        FaceLandmarkDataset(tmp_path, layout="ffhq")
    (tmp_path / "images1024x1024").mkdir()
    with pytest.raises(DatasetError, match="file .*ffhq-dataset-v2.json not found"):
        FaceLandmarkDataset(tmp_path, layout="ffhq")
    with pytest.raises(DatasetError, match="Manually_Annotated_file_lists/training.csv"):
        FaceLandmarkDataset(tmp_path, layout="affectnet")
    with pytest.raises(DatasetError, match="landmarks68.json"):
        FaceLandmarkDataset(tmp_path, layout="bupt")
    (tmp_path / "landmarks68.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="JSON object"):
        FaceLandmarkDataset(tmp_path, layout="bupt")
    with pytest.raises(ValueError, match="layout must be one of"):
        FaceLandmarkDataset(tmp_path, layout="celeba")
