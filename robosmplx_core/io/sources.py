"""Frame sources for `robosmplx predict`: a video file, an image, a folder of images or a webcam.

Every source yields :class:`SourceItem` per input frame: either a normalised RGB uint8 image
or the reason it could not be used (a bad frame is reported and counted, never dropped
silently). Unusable sources (missing, unreadable) raise :class:`SourceError` before any frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
DEFAULT_IMAGE_FPS = 10.0  # stamps of image folders: one image every 0.1 s


class SourceError(ValueError):
    """The source cannot be used at all (message says why and what to do)."""


@dataclass(frozen=True)
class SourceItem:
    """One input frame: ``image`` (H, W, 3) uint8 RGB, or None with ``skip_reason``."""

    index: int
    stamp_s: float
    image: Optional[np.ndarray]
    skip_reason: str = ""
    name: str = ""


def to_rgb8(image: Optional[np.ndarray]) -> tuple[Optional[np.ndarray], str]:
    """Normalise a decoded OpenCV image (BGR/BGRA/gray, 8 or 16 bit, or float) to RGB uint8.

    Returns:
        (image, "") or (None, reason) for empty or unsupported images.
    """
    if image is None:
        return None, "could not be decoded"
    if image.size == 0 or image.shape[0] == 0 or image.shape[1] == 0:
        return None, f"zero-size frame {image.shape}"
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        return None, f"unsupported pixel type {image.dtype}"
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB), ""
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), ""
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), ""
    return None, f"unsupported image shape {image.shape}"


def _read_image(path: Path) -> tuple[Optional[np.ndarray], str]:
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    rgb, reason = to_rgb8(image)
    return rgb, (f"{path.name}: {reason}" if reason else "")


class FrameSource:
    """Iterable over :class:`SourceItem`; ``fps`` and ``num_frames`` when known."""

    def __init__(self, spec: str, *, max_frames: Optional[int] = None) -> None:
        self.spec, self.max_frames = spec, max_frames
        self.kind, self.fps, self.num_frames = self._probe(spec)

    def _probe(self, spec: str) -> tuple[str, float, Optional[int]]:
        if spec.isdigit():
            return "camera", 30.0, None
        path = Path(spec).expanduser()
        if not path.exists():
            raise SourceError(f"{spec}: no such file or folder; give a video, an image, a folder of images or a webcam index")
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise SourceError(f"{spec}: the folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
            self._files = files
            return "folder", DEFAULT_IMAGE_FPS, len(files)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image, reason = _read_image(path)
            if image is None:
                raise SourceError(f"{spec}: not a usable image ({reason}); check the file or convert it to PNG/JPEG")
            return "image", DEFAULT_IMAGE_FPS, 1
        cap = cv2.VideoCapture(str(path))
        ok = cap.isOpened() and cap.read()[0]
        fps = cap.get(cv2.CAP_PROP_FPS) if ok else 0.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
        cap.release()
        if not ok:
            raise SourceError(f"{spec}: cannot be read as a video or image (unknown format, corrupt or empty); "
                              f"supported: videos OpenCV/FFmpeg can decode ({', '.join(VIDEO_SUFFIXES)}) and images")
        return "video", (fps if 0 < fps < 1000 else 30.0), (count if count > 0 else None)

    def __len__(self) -> int:
        known = self.num_frames if self.num_frames is not None else 0
        return min(known, self.max_frames) if self.max_frames is not None else known

    def __iter__(self) -> Iterator[SourceItem]:
        gen = {"camera": self._iter_capture, "video": self._iter_capture,
               "folder": self._iter_folder, "image": self._iter_folder}[self.kind]
        for item in gen():
            if self.max_frames is not None and item.index >= self.max_frames:
                return
            yield item

    def _iter_folder(self) -> Iterator[SourceItem]:
        files = self._files if self.kind == "folder" else [Path(self.spec).expanduser()]
        for i, path in enumerate(files):
            image, reason = _read_image(path)
            yield SourceItem(i, i / self.fps, image, reason, path.name)

    def _iter_capture(self) -> Iterator[SourceItem]:
        cap = cv2.VideoCapture(int(self.spec) if self.kind == "camera" else str(Path(self.spec).expanduser()))
        if not cap.isOpened():
            raise SourceError(f"{self.spec}: cannot open {'camera' if self.kind == 'camera' else 'video'}")
        start = time.monotonic()
        try:
            index = 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return  # end of stream (or a truncated file: everything decodable was read)
                image, reason = to_rgb8(bgr)
                # cameras: capture time; files: the frame's time in the video
                stamp = time.monotonic() - start if self.kind == "camera" else index / self.fps
                yield SourceItem(index, stamp, image, reason, f"frame {index}")
                index += 1
        finally:
            cap.release()
