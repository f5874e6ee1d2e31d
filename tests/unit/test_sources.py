"""Frame sources: every kind of input is normalised to RGB uint8 or reported, never crashes."""

import cv2
import numpy as np
import pytest

from robosmplx_core.io.sources import FrameSource, SourceError, to_rgb8
from robosmplx_core.media import sample_path


def test_to_rgb8_normalises_formats() -> None:
    gray = np.full((4, 5), 200, np.uint8)
    rgb, why = to_rgb8(gray)
    assert why == "" and rgb.shape == (4, 5, 3) and rgb[0, 0].tolist() == [200, 200, 200]
    deep = np.full((4, 5, 3), 65535, np.uint16)
    deep[..., 0] = 0  # blue channel in BGR
    rgb, _ = to_rgb8(deep)
    assert rgb.dtype == np.uint8 and rgb[0, 0].tolist() == [255, 255, 0]
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 2] = 255
    assert to_rgb8(bgra)[0][0, 0].tolist() == [255, 0, 0]
    assert to_rgb8(np.zeros((0, 5, 3), np.uint8)) == (None, "zero-size frame (0, 5, 3)")
    assert to_rgb8(None) == (None, "could not be decoded")
    assert to_rgb8(np.zeros((2, 2, 3), np.int32))[1] == "unsupported pixel type int32"


def test_video_source_stamps_and_limit() -> None:
    src = FrameSource(str(sample_path("vtest.avi")), max_frames=5)
    items = list(src)
    assert src.kind == "video" and src.fps == pytest.approx(10.0) and len(src) == 5
    assert [i.index for i in items] == [0, 1, 2, 3, 4]
    assert [i.stamp_s for i in items] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert items[0].image.shape == (576, 768, 3) and items[0].image.dtype == np.uint8


def test_truncated_video_yields_what_decodes(tmp_path) -> None:
    data = sample_path("vtest.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 3])
    items = list(FrameSource(str(cut)))
    assert 10 < len(items) < 795 and all(i.image is not None for i in items)


def test_unusable_sources_raise_clear_errors(tmp_path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        FrameSource(str(tmp_path / "missing.mp4"))
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is not a jpeg")
    with pytest.raises(SourceError, match=r"photo.jpg: not a usable image \(photo.jpg: could not be decoded\)"):
        FrameSource(str(fake))
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(SourceError, match="cannot be read as a video or image"):
        FrameSource(str(junk))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        FrameSource(str(tmp_path / "empty"))


def test_folder_with_a_bad_image_reports_it(tmp_path) -> None:
    img = cv2.imread(str(sample_path("messi5.jpg")))
    cv2.imwrite(str(tmp_path / "a.png"), img)
    (tmp_path / "b.png").write_bytes(b"broken")
    cv2.imwrite(str(tmp_path / "c.png"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "d.png"), img.astype(np.uint16) * 257)
    items = list(FrameSource(str(tmp_path)))
    assert [i.name for i in items] == ["a.png", "b.png", "c.png", "d.png"]
    assert items[1].image is None and items[1].skip_reason == "b.png: could not be decoded"
    assert items[2].image.shape == img.shape and items[3].image.dtype == np.uint8
    np.testing.assert_array_equal(items[3].image, items[0].image)  # 16-bit scaled back exactly
