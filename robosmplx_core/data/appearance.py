"""Appearance of synthetic people: backgrounds, clothing albedo and Lambertian shading.

Images are float32 RGB in [0, 1], channels last ``(H, W, 3)`` inside this module (the dataset
converts to ``(3, H, W)``). Normals and light directions are in the camera optical frame
(x right, y down, z forward); a light direction points from the surface towards the light.
Everything draws from a ``torch.Generator`` in a fixed order (deterministic).

Glossary: V vertices, F faces, H x W image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch

from robosmplx_core.body_model.joints import SMPLX_127_NAMES
from robosmplx_core.body_model.parts import BODY_PART_NAMES
from robosmplx_core.media import SAMPLES, media_dir

__all__ = [
    "BACKGROUND_KINDS", "LightingConfig", "available_photos", "make_background", "clothing_albedo",
    "hair_vertices", "face_marks", "FACE_MARKS", "vertex_normals", "shade_pixels",
]  # fmt: skip

BACKGROUND_KINDS = ("solid", "gradient", "noise", "photo")
"""``photo`` crops the sample photos of the media cache (``tools/fetch_media.sh``) and falls
back to ``noise`` when the cache is empty, so nothing here needs the network."""

_PHOTOS = tuple(n for n in SAMPLES if n.endswith((".jpg", ".png")))

# body part -> garment: 0 skin, 1 top, 2 bottom, 3 shoes (by SMPL part name)
_GARMENT = {
    "pelvis": 2, "left_hip": 2, "right_hip": 2, "left_knee": 2, "right_knee": 2, "left_ankle": 2,
    "right_ankle": 2, "left_foot": 3, "right_foot": 3, "spine1": 1, "spine2": 1, "spine3": 1,
    "neck": 0, "head": 0, "left_collar": 1, "right_collar": 1, "left_shoulder": 1,
    "right_shoulder": 1, "left_elbow": 0, "right_elbow": 0, "left_wrist": 0, "right_wrist": 0,
    "left_hand": 0, "right_hand": 0,
}  # fmt: skip
_GARMENT_OF_PART = torch.tensor([_GARMENT[n] for n in BODY_PART_NAMES], dtype=torch.int64)
_HAIR_COLOURS = torch.tensor([[0.06, 0.05, 0.04], [0.2, 0.12, 0.07], [0.4, 0.26, 0.14], [0.75, 0.6, 0.36],
                              [0.55, 0.55, 0.55], [0.5, 0.22, 0.1]])
_SKIN_TONES = torch.tensor([[0.98, 0.84, 0.72], [0.87, 0.67, 0.52], [0.72, 0.52, 0.36],
                            [0.52, 0.36, 0.24], [0.33, 0.22, 0.15]])


@dataclass(frozen=True)
class LightingConfig:
    """Ranges of the shading model ``albedo * (ambient + diffuse * max(0, n . l)) * tint``.

    Fields:
        ambient, diffuse: ranges of the two terms.
        light_spread: the light direction is ``normalize((a, b, -1))`` towards the camera side
            with ``a, b`` uniform in ``+-light_spread`` (0 = light from the camera).
        tint: per-channel colour of the light, each channel uniform in ``[tint, 1]``.
        texture_noise: std of the per-vertex albedo noise (a cheap texture).
        long_sleeves_prob: chance that the top covers the forearms too.
        hair_prob: chance that the back and top of the head carry a hair colour (else bald):
            the face/hair contrast is the cue real images give for facing towards or away.
        print_prob: chance that the top carries a print on the chest (a logo, a graphic tee).
        Faces (eyes, brows, lips) and the top's lower front neckline are always drawn (see
        :func:`face_marks`): with the hair they are the front/back cues of real people.
    """

    ambient: tuple[float, float] = (0.15, 0.5)
    diffuse: tuple[float, float] = (0.5, 0.9)
    light_spread: float = 1.5
    tint: float = 0.8
    texture_noise: float = 0.04
    long_sleeves_prob: float = 0.5
    hair_prob: float = 0.9
    print_prob: float = 0.5

    def __post_init__(self) -> None:
        for name in ("ambient", "diffuse"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi:
                raise ValueError(f"LightingConfig.{name}: expected 0 <= low <= high, got {(lo, hi)}")
        if not all(0.0 <= v <= 1.0 for v in (self.tint, self.long_sleeves_prob, self.hair_prob,
                                                  self.print_prob)):
            raise ValueError("LightingConfig.tint, long_sleeves_prob, hair_prob and print_prob: expected values "
                             "in [0, 1]")


def _rand(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(shape, generator=gen)


def _noise_background(gen: torch.Generator, size: int) -> np.ndarray:
    cells = int(2 + _rand(gen, 1).item() * 10)
    coarse = _rand(gen, cells, cells, 3).numpy()
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    fine = (_rand(gen, size, size, 1).numpy() - 0.5) * 0.15 * float(_rand(gen, 1))
    return img + fine


def _gradient_background(gen: torch.Generator, size: int) -> np.ndarray:
    c0, c1 = _rand(gen, 3).numpy(), _rand(gen, 3).numpy()
    angle = float(_rand(gen, 1)) * 2.0 * np.pi
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    t = (np.cos(angle) * (xs - 0.5) + np.sin(angle) * (ys - 0.5)) / 1.42 + 0.5
    return c0 + (c1 - c0) * t[..., None]


@lru_cache(maxsize=8)
def _load_photo(path: str) -> np.ndarray | None:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    return None if img is None else np.ascontiguousarray(img[:, :, ::-1].astype(np.float32) / 255.0)


def available_photos() -> tuple[str, ...]:
    """Paths of the sample photos present in the media cache (may be empty)."""
    return tuple(str(media_dir() / n) for n in _PHOTOS if (media_dir() / n).is_file())


def _photo_background(gen: torch.Generator, size: int, photos: tuple[str, ...]) -> np.ndarray | None:
    if not photos:
        return None
    img = _load_photo(photos[int(_rand(gen, 1).item() * len(photos)) % len(photos)])
    if img is None:
        return None
    h, w = img.shape[:2]
    side = int(min(h, w) * (0.3 + 0.7 * float(_rand(gen, 1))))
    y0 = int(float(_rand(gen, 1)) * (h - side))
    x0 = int(float(_rand(gen, 1)) * (w - side))
    crop = img[y0:y0 + side, x0:x0 + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def make_background(gen: torch.Generator, size: int, kinds: tuple[str, ...],
                    photos: tuple[str, ...] = ()) -> np.ndarray:
    """A ``(size, size, 3)`` float32 background of a kind drawn from ``kinds``.

    Args:
        gen: random generator.
        size: side in pixels.
        kinds: allowed kinds, a subset of :data:`BACKGROUND_KINDS`.
        photos: photo paths for ``"photo"`` (see :func:`available_photos`); falls back to
            ``"noise"`` when empty.
    """
    if not kinds or any(k not in BACKGROUND_KINDS for k in kinds):
        raise ValueError(f"kinds: expected a non-empty subset of {BACKGROUND_KINDS}, got {kinds}")
    kind = kinds[int(_rand(gen, 1).item() * len(kinds)) % len(kinds)]
    img = None
    if kind == "solid":
        img = np.broadcast_to(_rand(gen, 3).numpy(), (size, size, 3))
    elif kind == "gradient":
        img = _gradient_background(gen, size)
    elif kind == "photo":
        img = _photo_background(gen, size, photos)
    if img is None:
        img = _noise_background(gen, size)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def hair_vertices(rest_vertices: torch.Tensor, body_labels: torch.Tensor) -> torch.Tensor:
    """(V,) bool: the head vertices a hairstyle covers, from the rest-pose mesh (V, 3) (model
    frame: y up, +z front): the top fifth of the head and its back half above the nape."""
    head = body_labels == BODY_PART_NAMES.index("head")
    if not bool(head.any()):
        return torch.zeros_like(head)
    v = rest_vertices.detach().to(torch.float32)
    lo, hi = v[head].min(dim=0).values, v[head].max(dim=0).values
    height = (v[:, 1] - lo[1]) / (hi[1] - lo[1]).clamp(min=1e-6)  # 0 at the chin/neck, 1 at the crown
    depth = (v[:, 2] - lo[2]) / (hi[2] - lo[2]).clamp(min=1e-6)  # 0 at the back, 1 at the nose
    return head & ((height > 0.8) | ((depth < 0.45) & (height > 0.3)))


FACE_MARKS = ("none", "eye", "brow", "lip", "neckline", "print")
"""Codes of :func:`face_marks` (index = code)."""

_MARK_RADIUS_M = {"eye": 0.009, "brow": 0.006, "lip": 0.005}


def _landmark_rows(kind: str) -> list[int]:
    def is_kind(name: str) -> bool:
        if kind == "brow":
            return "eye_brow" in name
        if kind == "eye":
            return name.startswith(("left_eye", "right_eye")) and name[-1].isdigit() and "brow" not in name
        return "mouth" in name or "lip" in name

    return [i for i, n in enumerate(SMPLX_127_NAMES) if is_kind(n)]


def face_marks(rest_vertices: torch.Tensor, rest_joints: torch.Tensor, body_labels: torch.Tensor) -> torch.Tensor:
    """(V,) int64 codes into :data:`FACE_MARKS`: the vertices painted as eyes, brows and lips,
    the skin of the top's neckline, and the chest print's area.

    Real people look different from the front and the back (a face, a lower neckline in front,
    prints on the chest); these marks give the synthetic people the same cues.

    Args:
        rest_vertices: (V, 3) rest-pose mesh (model frame: y up, +z front).
        rest_joints: (J, 3) rest-pose joints, J >= 127 (``SMPLX_127_NAMES`` order: the face
            landmarks place the eyes, brows and lips).
        body_labels: (V,) body part label in [0, 24).
    """
    v = rest_vertices.detach().to(torch.float32)
    j = rest_joints.detach().to(torch.float32)
    if j.shape[0] < len(SMPLX_127_NAMES):
        raise ValueError(f"face_marks: expected >= {len(SMPLX_127_NAMES)} rest joints (with the face landmarks), "
                         f"got {j.shape[0]}")
    marks = torch.zeros(v.shape[0], dtype=torch.int64)
    head = body_labels == BODY_PART_NAMES.index("head")
    front = v[:, 2] > j[SMPLX_127_NAMES.index("head"), 2]
    for kind in ("lip", "brow", "eye"):  # eyes last: they win where brows come close
        d = torch.cdist(v, j[_landmark_rows(kind)]).min(dim=1).values
        marks[head & front & (d < _MARK_RADIUS_M[kind])] = FACE_MARKS.index(kind)
    torso = torch.isin(body_labels, torch.tensor([BODY_PART_NAMES.index(n) for n in
                                                  ("spine1", "spine2", "spine3", "left_collar", "right_collar")]))
    neck_y = j[SMPLX_127_NAMES.index("neck"), 1]
    x, y, z = v.unbind(dim=1)
    chest_front = torso & (z > 0.0)
    marks[chest_front & (y > neck_y - 0.06 + 3.0 * x**2)] = FACE_MARKS.index("neckline")
    marks[chest_front & (z > 0.04) & (x.abs() < 0.075) & (y > neck_y - 0.24) & (y < neck_y - 0.09)] = \
        FACE_MARKS.index("print")
    return marks


def clothing_albedo(gen: torch.Generator, body_labels: torch.Tensor, cfg: LightingConfig,
                    hair: torch.Tensor | None = None, marks: torch.Tensor | None = None) -> torch.Tensor:
    """(V, 3) per-vertex albedo: skin, top, bottom and shoe colours over the SMPL body parts,
    a small per-part tint, hair on the ``hair`` vertices (chance ``cfg.hair_prob``), the face,
    neckline and chest print on the ``marks`` vertices, and per-vertex noise.

    Args:
        gen: random generator.
        body_labels: (V,) body part label in [0, 24) (``part_labels(model, "body")``).
        cfg: ranges.
        hair: (V,) bool from :func:`hair_vertices`; ``None`` = no hair.
        marks: (V,) codes from :func:`face_marks`; ``None`` = a plain head and top.
    """
    tone = _SKIN_TONES[int(_rand(gen, 1).item() * len(_SKIN_TONES)) % len(_SKIN_TONES)]
    skin = (tone * (0.9 + 0.2 * _rand(gen, 3))).clamp(0, 1)
    garments = torch.cat([skin[None], _rand(gen, 3, 3) * 0.9 + 0.05])  # skin, top, bottom, shoes
    garment_of_part = _GARMENT_OF_PART.clone()
    if float(_rand(gen, 1)) < cfg.long_sleeves_prob:
        garment_of_part[[BODY_PART_NAMES.index(n) for n in ("left_elbow", "right_elbow")]] = 1
    part_tint = 1.0 + (_rand(gen, len(BODY_PART_NAMES), 3) - 0.5) * 0.1
    colour = garments[garment_of_part] * part_tint  # (24, 3)
    noise = torch.randn(body_labels.shape[0], 3, generator=gen) * cfg.texture_noise
    albedo = colour[body_labels]
    hair_draw = _rand(gen, 2)
    if hair is not None and float(hair_draw[0]) < cfg.hair_prob:
        shade = _HAIR_COLOURS[int(hair_draw[1].item() * len(_HAIR_COLOURS)) % len(_HAIR_COLOURS)]
        albedo = torch.where(hair[:, None], shade * (0.85 + 0.3 * _rand(gen, 3)), albedo)
    if marks is not None:
        albedo = _paint_marks(gen, albedo, marks, skin, cfg)
    return (albedo + noise).clamp(0.0, 1.0)


def _paint_marks(gen: torch.Generator, albedo: torch.Tensor, marks: torch.Tensor, skin: torch.Tensor,
                 cfg: LightingConfig) -> torch.Tensor:
    draw = _rand(gen, 8)  # draw[7] is spare: a later mark can use it without changing every sample
    eye = torch.full((3,), 0.05 + 0.2 * float(draw[0])) * torch.tensor([1.0, 0.85, 0.7])
    brow = _HAIR_COLOURS[int(draw[1].item() * len(_HAIR_COLOURS)) % len(_HAIR_COLOURS)] * 0.8
    lip = skin * torch.tensor([0.8, 0.5, 0.5]) * (0.85 + 0.2 * float(draw[2]))
    paint = {"eye": eye, "brow": brow, "lip": lip, "neckline": skin}
    if float(draw[3]) < cfg.print_prob:
        paint["print"] = draw[4:7] * 0.9 + 0.05
    out = albedo.clone()
    for name, colour in paint.items():
        out[marks == FACE_MARKS.index(name)] = colour
    return out


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, 3) unit area-weighted vertex normals of ``verts`` (V, 3) with ``faces`` (F, 3)."""
    tri = verts[faces]
    face_n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    normals = torch.zeros_like(verts).index_add_(0, faces.reshape(-1), face_n.repeat_interleave(3, dim=0))
    return normals / normals.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def shade_pixels(gen: torch.Generator, albedo_px: torch.Tensor, normal_px: torch.Tensor,
                 cfg: LightingConfig) -> torch.Tensor:
    """(M, 3) shaded colours of M pixels from their albedo (M, 3) and unit normals (M, 3)."""
    ab = (_rand(gen, 2) - 0.5) * 2.0 * cfg.light_spread
    light = torch.stack([ab[0], ab[1], torch.tensor(-1.0)])
    light = light / light.norm()
    ambient = cfg.ambient[0] + (cfg.ambient[1] - cfg.ambient[0]) * _rand(gen, 1)
    diffuse = cfg.diffuse[0] + (cfg.diffuse[1] - cfg.diffuse[0]) * _rand(gen, 1)
    tint = cfg.tint + (1.0 - cfg.tint) * _rand(gen, 3)
    lambert = (normal_px @ light).clamp(min=0.0)[:, None]
    return (albedo_px * (ambient + diffuse * lambert) * tint).clamp(0.0, 1.0)
