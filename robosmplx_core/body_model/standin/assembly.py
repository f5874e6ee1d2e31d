"""Assembling the stand-in primitives into one mesh of exactly 10475 vertices, and the
vertex permutation that puts smplx's keypoint vertices (nose, eyes, ears, fingertips, toes,
heels) at their anatomical places.

Units: metres, SMPL-X frame. V vertices, F faces, P primitives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.body_model.standin.head import FACE
from robosmplx_core.body_model.standin.mesh import Primitive
from robosmplx_core.body_model.standin.parts import Part
from robosmplx_core.body_model.standin.skeleton import FINGERS, SOLE_Y_M, finger_chain

NUM_VERTICES = 10475


@dataclass(frozen=True)
class Assembled:
    """The whole stand-in mesh with per-vertex data (build order, before permutation).

    Fields:
        vertices: ``(V, 3)`` float64 rest positions, metres.
        faces: ``(F, 3)`` int64, outward.
        ring_centres: ``(V, 3)`` centre of each vertex's cross-section ring, metres.
        weights: ``(V, 55)`` skinning weights, rows sum to 1.
        part: ``(V,)`` int ``Part`` id.
        primitives: the P primitives (local indices).
        offsets: ``(P,)`` index of each primitive's first vertex in ``vertices``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    ring_centres: np.ndarray
    weights: np.ndarray
    part: np.ndarray
    primitives: tuple[Primitive, ...]
    offsets: np.ndarray


def assemble(prims: list[Primitive]) -> Assembled:
    """Concatenate primitives (faces re-indexed), keeping their order."""
    sizes = np.array([len(p.vertices) for p in prims])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return Assembled(
        vertices=np.concatenate([p.vertices for p in prims]),
        faces=np.concatenate([p.faces + o for p, o in zip(prims, offsets)]),
        ring_centres=np.concatenate([p.ring_centres for p in prims]),
        weights=np.concatenate([p.weights for p in prims]),
        part=np.concatenate([np.full(len(p.vertices), p.part) for p in prims]),
        primitives=tuple(prims),
        offsets=offsets,
    )


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangle areas ``(F,)`` in square metres."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def split_to_count(asm: Assembled, count: int = NUM_VERTICES) -> Assembled:
    """Add vertices by centroid splits of the largest torso faces until there are ``count``.

    Each split replaces a face (a, b, c) by (a, b, m), (b, c, m), (c, a, m) with m the
    centroid: +1 vertex, +2 faces, orientation kept. The new vertex takes the mean ring
    centre and weights of the face's corners. Raises ``ValueError`` if the primitives already
    have more than ``count`` vertices.
    """
    extra = count - len(asm.vertices)
    if extra < 0:
        raise ValueError(f"stand-in primitives have {len(asm.vertices)} vertices, more than "
                         f"{count}; lower the ring counts in parts.py/head.py")
    if extra == 0:
        return asm
    areas = face_areas(asm.vertices, asm.faces)
    on_torso = (asm.part[asm.faces] == Part.TORSO).all(axis=1)
    areas = np.where(on_torso, areas, -1.0)
    chosen = np.sort(np.argsort(-areas, kind="stable")[:extra])
    corners = asm.faces[chosen]
    new_idx = len(asm.vertices) + np.arange(extra)
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    keep = np.ones(len(asm.faces), dtype=bool)
    keep[chosen] = False
    faces = np.concatenate([asm.faces[keep], np.stack([a, b, new_idx], 1),
                            np.stack([b, c, new_idx], 1), np.stack([c, a, new_idx], 1)])

    def mean_of(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, x[corners].mean(axis=1)])

    return Assembled(mean_of(asm.vertices), faces, mean_of(asm.ring_centres),
                     mean_of(asm.weights), np.concatenate([asm.part, asm.part[a]]),
                     asm.primitives, asm.offsets)


def keypoint_targets() -> dict[str, tuple[tuple[int, ...], np.ndarray]]:
    """Where each smplx keypoint vertex must be: name -> (allowed parts, target point (3,)).

    The chosen vertex is the one of the allowed parts nearest to the target (metres).
    Names are those of ``smplx.vertex_ids.vertex_ids['smplx']``.
    """
    far = 0.2
    targets: dict[str, tuple[tuple[int, ...], np.ndarray]] = {
        "nose": ((Part.HEAD,), np.array([0.0, FACE.nose_tip_y, far])),
        "leye": ((Part.LEFT_EYE,), np.array([FACE.eye_x, FACE.eye_y, far])),
        "reye": ((Part.RIGHT_EYE,), np.array([-FACE.eye_x, FACE.eye_y, far])),
        "lear": ((Part.HEAD,), np.array([far, FACE.ear_y, FACE.ear_z])),
        "rear": ((Part.HEAD,), np.array([-far, FACE.ear_y, FACE.ear_z])),
    }
    for side, s, foot in (("l", 1.0, Part.LEFT_FOOT), ("r", -1.0, Part.RIGHT_FOOT)):
        for finger in FINGERS:
            fingers = Part.LEFT_FINGERS if side == "l" else Part.RIGHT_FINGERS
            tip = finger_chain("left" if side == "l" else "right", finger)[0][3]
            targets[side + finger] = ((fingers,), tip)
        key = side.upper()
        targets[key + "BigToe"] = ((foot,), np.array([s * 0.082, SOLE_Y_M + 0.012, 0.17]))
        targets[key + "SmallToe"] = ((foot,), np.array([s * 0.132, SOLE_Y_M + 0.010, 0.14]))
        targets[key + "Heel"] = ((foot,), np.array([s * 0.088, SOLE_Y_M + 0.010, -0.095]))
    return targets


def keypoint_sources(asm: Assembled) -> dict[str, int]:
    """Build-order index of the vertex chosen for each keypoint name (all distinct)."""
    chosen: dict[str, int] = {}
    for name, (parts, target) in keypoint_targets().items():
        allowed = np.flatnonzero(np.isin(asm.part, parts))
        dist = np.linalg.norm(asm.vertices[allowed] - target, axis=1)
        chosen[name] = int(allowed[np.argmin(dist)])
    if len(set(chosen.values())) != len(chosen):
        raise ValueError(f"stand-in keypoint vertices are not distinct: {chosen}")
    return chosen


def vertex_order(sources: dict[str, int], ids: dict[str, int], count: int) -> np.ndarray:
    """Permutation ``(V,)``: ``new_vertices = old_vertices[order]``, such that the vertex
    chosen for each keypoint name lands at smplx's index for it (``ids[name]``); all other
    vertices keep their relative build order."""
    order = np.full(count, -1, dtype=np.int64)
    for name, src in sources.items():
        order[ids[name]] = src
    rest = np.setdiff1d(np.arange(count), np.array(list(sources.values())))
    order[order < 0] = rest
    return order


def inverse_permutation(order: np.ndarray) -> np.ndarray:
    """``(V,)`` map from build-order index to new index for ``new = old[order]``."""
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return inverse
