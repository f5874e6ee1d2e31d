"""Overlay of tracked SMPL-X estimates on a frame: mesh or skeleton, box and track id."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from robosmplx_core.render.mesh import render_mesh
from robosmplx_core.types import PersonEstimate

OVERLAY_MODES = ("mesh", "skeleton", "none")


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per track id (golden-ratio hues)."""
    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618033988749895) % 1.0, 0.55, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_skeleton(image: np.ndarray, joints2d: np.ndarray, parents: np.ndarray, color: tuple[int, int, int]) -> None:
    """Draw the 55-joint skeleton (joints2d (J>=55, 2) pixels) into a BGR image in place."""
    thickness = max(1, int(round(image.shape[1] / 500)))
    for child, parent in enumerate(parents[:55]):
        if parent < 0:
            continue
        a, b = joints2d[parent], joints2d[child]
        if np.isfinite(a).all() and np.isfinite(b).all():
            cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), color[::-1], thickness, cv2.LINE_AA)


def draw_overlay(image: np.ndarray, persons: list[PersonEstimate], *, mode: str, K: np.ndarray,
                 faces: np.ndarray, parents: np.ndarray, vertices: list[np.ndarray] | None = None) -> np.ndarray:
    """Frame (H, W, 3) RGB with every person drawn; returns a new RGB image.

    ``vertices`` (one (V, 3) camera-frame array per person) is required for mode "mesh".
    Persons are drawn far to near so nearer people cover farther ones.
    """
    if mode not in OVERLAY_MODES:
        raise ValueError(f"overlay mode {mode!r}: expected one of {OVERLAY_MODES}")
    out = image
    order = sorted(range(len(persons)), key=lambda i: -float(persons[i].joints3d[0, 2]))
    if mode == "mesh" and persons:
        if vertices is None or len(vertices) != len(persons):
            raise ValueError("draw_overlay: mode 'mesh' needs one vertex array per person")
        for i in order:
            out = render_mesh(out, vertices[i], faces, K, color_rgb=track_color(persons[i].track_id), alpha=0.75)
    bgr = np.ascontiguousarray(out[:, :, ::-1])
    scale = max(0.4, image.shape[1] / 1400)
    for i in order:
        p, color = persons[i], track_color(persons[i].track_id)
        if mode == "skeleton":
            draw_skeleton(bgr, p.joints2d, parents, color)
        x0, y0, x1, y1 = (int(v) for v in p.box_xyxy)
        cv2.rectangle(bgr, (x0, y0), (x1, y1), color[::-1], 1, cv2.LINE_AA)
        cv2.putText(bgr, f"id {p.track_id}", (x0 + 2, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    color[::-1], max(1, int(scale * 2)), cv2.LINE_AA)
    return np.ascontiguousarray(bgr[:, :, ::-1])
