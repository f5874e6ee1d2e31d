"""`robosmplx predict` end to end on real media with real models, and every bad input."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.cli import main
from robosmplx_core.export.estimates_npz import load_estimates
from robosmplx_core.media import sample_path

ROBOSMPLX = Path(sys.executable).with_name("robosmplx")


def _lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "estimates.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def vtest_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vtest")
    assert main(["predict", str(sample_path("vtest.avi")), "--out", str(out), "--max-frames", "10",
                 "--overlay", "skeleton", "--quiet"]) == 0
    return out


def test_video_smoke_writes_every_output(vtest_run) -> None:
    lines = _lines(vtest_run)
    assert [ln["frame"] for ln in lines] == list(range(10))
    assert lines[3]["stamp"] == pytest.approx(0.3)
    summary = json.loads((vtest_run / "summary.json").read_text())
    assert summary["frames"] == 10 and summary["frames_skipped"] == 0
    assert summary["unique_tracks"] >= 2 and summary["persons_per_frame"]["max"] >= 2
    assert summary["median_latency_ms"]["detect_ms"] > 0 and summary["pipeline_fps"] > 0
    people = [p for ln in lines for p in ln["persons"]]
    assert people, "nobody estimated in 10 vtest frames"
    p = people[0]
    assert len(p["body_pose"]) == 21 and len(p["left_hand_pose"]) == 15 and len(p["joints2d"]) == 127
    assert p["transl"][2] > 0 and set(p["confidence"]) == {"body", "left_hand", "right_hand", "face"}
    tracks = load_estimates(vtest_run / "estimates.npz")
    assert set(tracks) == set(summary["track_ids"])
    cap = cv2.VideoCapture(str(vtest_run / "overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10


def test_export_bvh_from_the_run(vtest_run, tmp_path) -> None:
    tracks = load_estimates(vtest_run / "estimates.npz")
    tid = max(tracks, key=lambda k: len(tracks[k]))
    out = tmp_path / "walk.bvh"
    assert main(["export-bvh", str(vtest_run / "estimates.npz"), "--track", str(tid), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("HIERARCHY") and "left_index3" in text and "MOTION" in text


def test_single_image_mesh_overlay(tmp_path) -> None:
    assert main(["predict", str(sample_path("messi5.jpg")), "--out", str(tmp_path), "--quiet"]) == 0
    (line,) = _lines(tmp_path)
    assert len(line["persons"]) == 1
    p = line["persons"][0]
    assert np.isfinite(np.array(p["body_pose"])).all() and p["confidence"]["body"] > 0.5
    u, v = np.array(p["joints2d"]).T
    x0, y0, x1, y1 = p["box_xyxy"]
    inside = (u > x0 - 30) & (u < x1 + 30) & (v > y0 - 30) & (v < y1 + 30)
    assert inside[:25].mean() > 0.8, "body joints should project onto the player"
    overlay = cv2.VideoCapture(str(tmp_path / "overlay.mp4"))
    ok, img = overlay.read()
    assert ok and img.shape[:2] == (342, 548)


def test_bad_frames_are_skipped_and_counted(tmp_path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    img = cv2.imread(str(sample_path("messi5.jpg")))
    cv2.imwrite(str(folder / "0.png"), img)
    (folder / "1.png").write_bytes(b"\x89PNG broken")
    cv2.imwrite(str(folder / "2.png"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))      # grayscale
    cv2.imwrite(str(folder / "3.png"), img.astype(np.uint16) * 257)                 # 16-bit
    cv2.imwrite(str(folder / "4.png"), np.full((120, 160, 3), 127, np.uint8))       # nobody
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--out", str(out), "--overlay", "skeleton", "--quiet"]) == 0
    lines = _lines(out)
    assert [ln["frame"] for ln in lines] == [0, 1, 2, 3, 4]
    assert lines[1]["persons"] == [] and lines[1]["skipped"] == "1.png: could not be decoded"
    assert lines[4]["persons"] == []
    for i in (0, 2, 3):
        assert len(lines[i]["persons"]) == 1, f"frame {i}: expected the player"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_skipped"] == 1 and summary["skipped_reasons"] == {"could not be decoded": 1}


def test_8k_frame(tmp_path) -> None:
    big = tmp_path / "big.jpg"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(sample_path("messi5.jpg"))), (7680, 4800)))
    out = tmp_path / "out"
    assert main(["predict", str(big), "--out", str(out), "--quiet"]) == 0
    (line,) = _lines(out)
    assert len(line["persons"]) == 1 and line["persons"][0]["box_xyxy"][2] > 4000
    ok, img = cv2.VideoCapture(str(out / "overlay.mp4")).read()
    assert ok and img.shape[1] == 1920  # overlay downscaled


def test_unusable_input_exits_2_with_a_message(tmp_path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("hello")
    res = subprocess.run([str(ROBOSMPLX), "predict", str(fake), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "not a usable image" in res.stderr
    res = subprocess.run([str(ROBOSMPLX), "predict", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "no such file or folder" in res.stderr
    res = subprocess.run([str(ROBOSMPLX), "predict", "x.mp4", "--out", "o", "tracker.bogus=1"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "unknown config key 'tracker.bogus'" in res.stderr


def test_truncated_video_gets_a_line_per_decodable_frame(tmp_path) -> None:
    data = sample_path("vtest.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 40])
    out = tmp_path / "out"
    assert main(["predict", str(cut), "--out", str(out), "--overlay", "none", "--quiet"]) == 0
    lines = _lines(out)
    assert len(lines) >= 5 and [ln["frame"] for ln in lines] == list(range(len(lines)))
