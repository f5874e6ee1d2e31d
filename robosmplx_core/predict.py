"""`robosmplx predict SOURCE --out DIR`: video/images/webcam in, tracked SMPL-X out.

Writes DIR/estimates.jsonl (a line per input frame), DIR/estimates.npz (arrays per track),
DIR/overlay.mp4 (mesh or skeleton with track ids) and DIR/summary.json (counts, per-stage
median latency, fps, skipped frames and why).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, deque
from dataclasses import asdict, fields
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np
import torch
from tqdm import tqdm

from robosmplx_core.config import RoboSMPLXConfig
from robosmplx_core.export.estimates_npz import EstimatesWriter
from robosmplx_core.io.jsonl import write_frame_line
from robosmplx_core.io.sources import FrameSource, SourceItem
from robosmplx_core.pipeline import Estimator, StageTimings
from robosmplx_core.render.overlay import draw_overlay
from robosmplx_core.types import Frame, PersonEstimate

OVERLAY_MAX_WIDTH = 1920  # larger frames are downscaled in overlay.mp4


class OverlayWriter:
    """overlay.mp4, opened at the first frame; frames scaled to at most OVERLAY_MAX_WIDTH."""

    def __init__(self, path: Path, fps: float, *, mode: str, estimator: Estimator) -> None:
        self.path, self.fps, self.mode, self.est = path, fps, mode, estimator
        self._writer: Optional[cv2.VideoWriter] = None
        self._size: Optional[tuple[int, int]] = None

    def write(self, image: Optional[np.ndarray], persons: list[PersonEstimate], K: Optional[np.ndarray]) -> None:
        """Draw and append a frame; ``image`` None writes a grey 'skipped' frame."""
        if self.mode == "none" or (image is None and self._size is None):
            return
        if image is None:
            out = np.full((self._size[1], self._size[0], 3), 96, np.uint8)
            cv2.putText(out, "skipped frame", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        else:
            vertices = None
            if self.mode == "mesh" and persons:
                with torch.inference_mode():
                    params = type(persons[0].params).cat([p.params for p in persons])
                    vertices = list(self.est.body_model(params).vertices.float().numpy())
            out = draw_overlay(image, persons, mode=self.mode, K=K, faces=self.est.body_model.faces,
                               parents=self.est.body_model.parents, vertices=vertices)
        if self._size is None:
            h, w = out.shape[:2]
            s = min(1.0, OVERLAY_MAX_WIDTH / w)
            self._size = (max(2, int(w * s) // 2 * 2), max(2, int(h * s) // 2 * 2))
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._size)
        if out.shape[1] != self._size[0] or out.shape[0] != self._size[1]:
            out = cv2.resize(out, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(out[:, :, ::-1]))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def _summary(source: FrameSource, counts: list[int], track_ids: set[int], timings: list[StageTimings],
             skipped: Counter, wall_s: float) -> dict:
    med = {f.name: round(statistics.median([getattr(t, f.name) for t in timings]), 3) if timings else None
           for f in fields(StageTimings)}
    detect = [t.detect_ms for t in timings if t.detect_ms > 0]  # the detector runs every n-th frame
    med["detect_ms"] = round(statistics.median(detect), 3) if detect else None
    processed = len(timings)
    return {
        "source": source.spec, "source_kind": source.kind, "frames": len(counts), "frames_processed": processed,
        "frames_skipped": sum(skipped.values()), "skipped_reasons": dict(skipped),
        "persons_per_frame": {"mean": round(float(np.mean(counts)), 3) if counts else 0.0,
                              "max": max(counts) if counts else 0},
        "unique_tracks": len(track_ids), "track_ids": sorted(track_ids),
        "median_latency_ms": med, "detector_frames": len(detect),
        "pipeline_fps": round(1e3 / med["total_ms"], 2) if timings and med["total_ms"] else None,
        "end_to_end_fps": round(len(counts) / wall_s, 2) if wall_s > 0 else None,
    }


def run_predict(source_spec: str, out_dir: Path, cfg: RoboSMPLXConfig, *, max_frames: Optional[int] = None,
                overlay: str = "mesh", progress: bool = True, estimator: Optional[Estimator] = None) -> dict:
    """Run the pipeline over a source and write the four outputs; returns the summary dict.

    Raises:
        SourceError: the source cannot be used at all (missing, unreadable, not an image).
    """
    source = FrameSource(source_spec, max_frames=max_frames)
    est = estimator or Estimator.from_config(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    npz, video = EstimatesWriter(), OverlayWriter(out_dir / "overlay.mp4", source.fps, mode=overlay, estimator=est)
    counts, track_ids, timings, skipped = [], set(), [], Counter()
    waiting: deque[SourceItem] = deque()  # bad frames, written in order between good ones

    def frames() -> Iterator[Frame]:
        for item in source:
            if item.image is None:
                waiting.append(item)
            else:
                yield Frame(item.image, stamp_s=item.stamp_s, index=item.index)

    def emit(index: int, stamp_s: float, image, persons: list[PersonEstimate], K, why: str = "") -> None:
        write_frame_line(fh, index, stamp_s, persons, skipped=why or None)
        video.write(image, persons, K)
        counts.append(len(persons))
        bar.update(1)
        bar.set_postfix(persons=len(persons), tracks=len(track_ids))

    def flush_skipped(before: float) -> None:
        while waiting and waiting[0].index < before:
            item = waiting.popleft()
            skipped[item.skip_reason.split(": ", 1)[-1]] += 1
            emit(item.index, item.stamp_s, None, [], None, item.skip_reason)

    t_start = time.perf_counter()
    bar = tqdm(total=len(source) or None, unit="frame", disable=not progress, desc=Path(source_spec).name)
    with open(out_dir / "estimates.jsonl", "w") as fh:
        try:
            for frame, persons, stage_ms in est.stream(frames()):
                flush_skipped(frame.index)
                timings.append(stage_ms)
                track_ids.update(p.track_id for p in persons)
                npz.add(frame.index, frame.stamp_s, persons)
                emit(frame.index, frame.stamp_s, frame.image, persons, est.intrinsics(frame))
            flush_skipped(float("inf"))
        finally:
            bar.close()
            video.close()
    npz.save(out_dir / "estimates.npz")
    summary = _summary(source, counts, track_ids, timings, skipped, time.perf_counter() - t_start)
    summary["config"] = asdict(cfg)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
