"""Long run (`make test-slow`): 150 frames of vtest.avi through the whole pipeline."""

import json

import pytest

from robosmplx_core.cli import main
from robosmplx_core.media import sample_path


@pytest.mark.slow
def test_vtest_150_frames_tracks_several_people(tmp_path) -> None:
    assert main(["predict", str(sample_path("vtest.avi")), "--out", str(tmp_path), "--max-frames", "150",
                 "--overlay", "none", "--quiet"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    lines = (tmp_path / "estimates.jsonl").read_text().splitlines()
    assert len(lines) == 150 and summary["frames_skipped"] == 0
    assert summary["persons_per_frame"]["mean"] >= 1.5 and summary["persons_per_frame"]["max"] >= 4
    # ids are stable enough: far fewer tracks than person-frames
    assert summary["unique_tracks"] <= 0.1 * summary["persons_per_frame"]["mean"] * 150
