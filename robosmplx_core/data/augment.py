"""Augmentations of synthetic samples, following the paper's taxonomy (sec. 4.4, fig. 7).

- image-variant: colour jitter, Gaussian blur, occlusion patches, background swap (uses the
  person mask); labels are unchanged (occluded parts keep their labels: amodal ground truth);
- location-variant: the crop box moved by ``(tx, ty)`` box sizes and scaled by ``scale``
  (the robustness protocol uses ``tx, ty`` in ``+-0.2`` and ``scale`` in ``{0.7, 1.3}``);
- pose-variant: in-plane rotation about the crop centre, horizontal flip (left/right joints,
  parts, boxes and SMPL-X parameters swapped).

Geometric augmentations are one similarity ``A`` (2 x 3) of continuous crop pixels (flip, then
rotation, then the box change). The 3D ground truth follows exactly: the camera frame is
rotated by ``Q`` = the rotation about the optical axis (times ``diag(-1, 1, 1)`` when
flipped), and the crop intrinsics become a pinhole with focal ``|A| f`` and principal point
``A(p)``, so ``project(Q X, K') = A(project(X, K))``. Flips mirror the body through the
model's sagittal plane (left/right swapped, rotations conjugated by ``diag(-1, 1, 1)``); this
is exact for the pose and assumes a left/right-symmetric shape (SMPL-X's is, to a few mm).
Hand crops (always right hands) cannot be flipped: flipping makes a left hand.

Everything random draws from a ``torch.Generator`` (deterministic). Glossary: S crop side,
J joints.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES
from robosmplx_core.body_model.parts import PART_NAMES_BY_SPEC, mirror_permutation
from robosmplx_core.data.appearance import make_background
from robosmplx_core.data.synthetic import SyntheticSample
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.types import SMPLXParams

__all__ = [
    "AugmentConfig", "ROBUSTNESS_TRANSLATIONS", "ROBUSTNESS_SCALES", "similarity", "apply_affine", "warp_image",
    "warp_sample", "translate_scale", "rotate", "flip", "color_jitter", "blur", "occlude",
    "swap_background", "augment_sample", "image_variants", "positive_pair", "draw_uniform", "location_params",
]  # fmt: skip

ROBUSTNESS_TRANSLATIONS = (-0.2, 0.2)
"""Box shifts (fractions of the box side) of the robustness protocol (paper, tables 3-5)."""
ROBUSTNESS_SCALES = (0.7, 1.3)
"""Box scales of the robustness protocol."""

_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of :func:`augment_sample` / :func:`positive_pair`.

    Fields:
        translate: box shift range, fraction of the box side (uniform in ``+-translate``).
        scale: box scale range (``> 1`` zooms out).
        rotation_deg: in-plane rotation range, ``+-rotation_deg``; applied with ``rotation_prob``.
        flip_prob: horizontal flip probability (body and face crops only).
        brightness, contrast, saturation: multiplicative jitter ``1 +- value``.
        hue_deg: hue rotation ``+-hue_deg``.
        blur_prob, blur_sigma_px: Gaussian blur probability and sigma range (pixels).
        occlusion_prob, occlusion_size: probability of one random patch and its side range
            (fraction of S).
        background_prob: probability of replacing the background (procedural kinds).
        fill: value of pixels warped in from outside the crop, in [0, 1].
    """

    translate: float = 0.2
    scale: tuple[float, float] = (0.7, 1.3)
    rotation_deg: float = 30.0
    rotation_prob: float = 0.5
    flip_prob: float = 0.5
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue_deg: float = 10.0
    blur_prob: float = 0.2
    blur_sigma_px: tuple[float, float] = (0.5, 2.0)
    occlusion_prob: float = 0.3
    occlusion_size: tuple[float, float] = (0.1, 0.4)
    background_prob: float = 0.3
    fill: float = 0.0

    def __post_init__(self) -> None:
        probs = ("rotation_prob", "flip_prob", "blur_prob", "occlusion_prob", "background_prob", "fill")
        for name in probs:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AugmentConfig.{name}: expected a value in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"AugmentConfig.scale: expected 0 < low <= high, got {self.scale}")
        if not 0.0 < self.occlusion_size[0] <= self.occlusion_size[1] <= 1.0:
            raise ValueError(f"AugmentConfig.occlusion_size: expected 0 < low <= high <= 1, got {self.occlusion_size}")


def similarity(size: int, *, flip: bool = False, angle_deg: float = 0.0, translate: tuple[float, float] = (0.0, 0.0),
               scale: float = 1.0) -> torch.Tensor:
    """(2, 3) float64 map of continuous crop pixels: mirror about the vertical centre line
    (``flip``), rotate by ``angle_deg`` about the centre (positive turns the image content
    clockwise on screen, x right / y down), then crop the box shifted by ``translate`` box
    sides and scaled by ``scale`` and resample it to ``size`` (so content moves by
    ``-translate * size / scale`` pixels and shrinks by ``1 / scale``)."""
    if scale <= 0:
        raise ValueError(f"scale: expected a positive box scale, got {scale}")
    c = size / 2.0
    a = math.radians(angle_deg)
    rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)
    lin = rot @ torch.diag(torch.tensor([-1.0 if flip else 1.0, 1.0], dtype=torch.float64)) / scale
    shift = torch.tensor(translate, dtype=torch.float64) * size
    offset = torch.tensor([c, c], dtype=torch.float64) - lin @ torch.tensor([c, c], dtype=torch.float64) - shift / scale
    return torch.cat([lin, offset[:, None]], dim=1)


def apply_affine(A: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(N, 2) points through the (2, 3) affine map ``A`` (dtype kept)."""
    return (points.double() @ A[:, :2].T + A[:, 2]).to(points.dtype)


def warp_image(img: np.ndarray, A: torch.Tensor, size: int, *, nearest: bool, fill: float) -> np.ndarray:
    """cv2 warp of an (H, W[, C]) array by the (2, 3) map ``A`` on continuous crop pixels (the
    half-pixel correction to cv2's integer pixel centres), to ``size x size``."""
    a = A.numpy().astype(np.float64).copy()
    a[:, 2] += a[:, :2] @ np.array([0.5, 0.5]) - 0.5
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(img, a, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def _mirror_params(params: SMPLXParams) -> SMPLXParams:
    """Mirror through the model's sagittal plane: swap left/right, conjugate by diag(-1, 1, 1)."""
    m = _MIRROR.to(params.body_pose)

    def conj(r: torch.Tensor) -> torch.Tensor:
        return m @ r @ m

    perm = mirror_permutation(SMPLX_JOINT_NAMES[1:22])
    return dataclasses.replace(
        params, global_orient=conj(params.global_orient), body_pose=conj(params.body_pose[:, perm]),
        left_hand_pose=conj(params.right_hand_pose), right_hand_pose=conj(params.left_hand_pose),
        jaw_pose=conj(params.jaw_pose), leye_pose=conj(params.reye_pose), reye_pose=conj(params.leye_pose),
    )


def warp_sample(sample: SyntheticSample, *, flip: bool = False, angle_deg: float = 0.0,
                translate: tuple[float, float] = (0.0, 0.0), scale: float = 1.0, fill: float = 0.0) -> SyntheticSample:
    """Apply one geometric augmentation (see :func:`similarity`) to the image and every label.

    Raises:
        ValueError: ``flip`` on a hand crop (it would become a left hand).
    """
    if flip and sample.part == "hand":
        raise ValueError("warp_sample: hand crops are right hands and cannot be flipped "
                         "(a flipped right hand is a left hand); use flip only for body and face crops")
    size = sample.image_size
    A = similarity(size, flip=flip, angle_deg=angle_deg, translate=translate, scale=scale)
    a = math.radians(angle_deg)
    rz = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    Q = rz @ _MIRROR if flip else rz  # camera-frame map of the 3D ground truth
    jperm = mirror_permutation(part_spec(sample.part).joint_names) if flip else list(range(sample.joints2d.shape[0]))
    image = warp_image(sample.image.permute(1, 2, 0).numpy(), A, size, nearest=False, fill=fill)
    seg = sample.segmentation
    if flip:
        lut = torch.tensor([0] + [k + 1 for k in mirror_permutation(PART_NAMES_BY_SPEC[sample.part])])
        seg = lut[seg]
    seg = torch.from_numpy(warp_image(seg.to(torch.int32).numpy(), A, size, nearest=True, fill=0)).long()
    mask = torch.from_numpy(warp_image(sample.person_mask.to(torch.uint8).numpy(), A, size, nearest=True, fill=0)) > 0
    joints2d = apply_affine(A, sample.joints2d[jperm])
    zoom = float(torch.linalg.det(A[:, :2]).abs().sqrt())
    boxes = [sample.right_hand_box_cxcys, sample.left_hand_box_cxcys] if flip else \
        [sample.left_hand_box_cxcys, sample.right_hand_box_cxcys]
    boxes = [torch.cat([apply_affine(A, b[None, :2])[0], b[2:] * zoom]) for b in boxes + [sample.face_box_cxcys]]
    K = sample.K.clone()
    K[0, 0], K[1, 1] = K[0, 0] * zoom, K[1, 1] * zoom
    K[:2, 2] = apply_affine(A, sample.K[:2, 2][None])[0]
    params = _mirror_params(sample.params) if flip else sample.params  # global orient -> M R M
    pelvis = Q.to(sample.pelvis3d) @ sample.pelvis3d
    rest_pelvis = sample.pelvis3d - sample.params.transl[0]  # J0(betas), unchanged by the mirror
    params = dataclasses.replace(params, global_orient=rz.to(params.global_orient) @ params.global_orient,
                                 transl=(pelvis - rest_pelvis)[None])
    return dataclasses.replace(
        sample, image=torch.from_numpy(image).permute(2, 0, 1).contiguous(), params=params,
        joints3d=sample.joints3d[jperm] @ Q.T.to(sample.joints3d), joints2d=joints2d,
        joints_visible=((joints2d >= 0) & (joints2d < size)).all(dim=-1), segmentation=seg, person_mask=mask,
        left_hand_box_cxcys=boxes[0], right_hand_box_cxcys=boxes[1], face_box_cxcys=boxes[2], K=K, pelvis3d=pelvis,
    )


def translate_scale(sample: SyntheticSample, *, translate: tuple[float, float], scale: float = 1.0,
                    fill: float = 0.0) -> SyntheticSample:
    """Location-variant: crop the box shifted by ``translate`` box sides, scaled by ``scale``."""
    return warp_sample(sample, translate=translate, scale=scale, fill=fill)


def rotate(sample: SyntheticSample, angle_deg: float, *, fill: float = 0.0) -> SyntheticSample:
    """Pose-variant: rotate the content by ``angle_deg`` (clockwise on screen) about the centre."""
    return warp_sample(sample, angle_deg=angle_deg, fill=fill)


def flip(sample: SyntheticSample) -> SyntheticSample:
    """Pose-variant: horizontal mirror; left/right joints, parts, boxes and parameters swapped."""
    return warp_sample(sample, flip=True)


def draw_uniform(gen: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    """One float uniform in ``[lo, hi)`` from ``gen`` (every augmentation draws through this)."""
    return lo + (hi - lo) * float(torch.rand(1, generator=gen))


def color_jitter(image: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig) -> torch.Tensor:
    """Image-variant: brightness, contrast, saturation and hue jitter of a (3, S, S) image."""
    b = draw_uniform(gen, 1 - cfg.brightness, 1 + cfg.brightness)
    c = draw_uniform(gen, 1 - cfg.contrast, 1 + cfg.contrast)
    s = draw_uniform(gen, 1 - cfg.saturation, 1 + cfg.saturation)
    h = math.radians(draw_uniform(gen, -cfg.hue_deg, cfg.hue_deg))
    img = image * b
    img = (img - img.mean()) * c + img.mean()
    grey = (img * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True)
    img = (img - grey) * s + grey
    # hue: rotate the chroma about the grey axis (Rodrigues about (1, 1, 1) / sqrt(3))
    k = torch.full((3,), 1.0 / math.sqrt(3.0))
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    rot = math.cos(h) * torch.eye(3) + math.sin(h) * cross + (1 - math.cos(h)) * torch.outer(k, k)
    return torch.einsum("ij,jhw->ihw", rot, img).clamp(0.0, 1.0)


def blur(image: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Image-variant: Gaussian blur of a (3, S, S) image."""
    if sigma_px <= 0:
        return image
    out = cv2.GaussianBlur(image.permute(1, 2, 0).numpy(), (0, 0), sigmaX=sigma_px)
    return torch.from_numpy(out).permute(2, 0, 1).contiguous()


def occlude(image: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig) -> torch.Tensor:
    """Image-variant: one random rectangle of random colour and noise (labels unchanged)."""
    size = image.shape[-1]
    h = max(1, int(draw_uniform(gen, *cfg.occlusion_size) * size))
    w = max(1, int(draw_uniform(gen, *cfg.occlusion_size) * size))
    y0, x0 = int(draw_uniform(gen) * (size - h + 1)), int(draw_uniform(gen) * (size - w + 1))
    patch = torch.rand(3, 1, 1, generator=gen) + 0.1 * torch.randn(3, h, w, generator=gen)
    out = image.clone()
    out[:, y0:y0 + h, x0:x0 + w] = patch.clamp(0.0, 1.0)
    return out


def swap_background(sample: SyntheticSample, background: torch.Tensor) -> SyntheticSample:
    """Image-variant: keep the person's pixels (``person_mask``), replace the rest with
    ``background`` (3, S, S)."""
    if background.shape != sample.image.shape:
        raise ValueError(f"background: expected shape {tuple(sample.image.shape)} like the image, "
                         f"got {tuple(background.shape)}")
    image = torch.where(sample.person_mask[None], sample.image, background.to(sample.image))
    return dataclasses.replace(sample, image=image)


def location_params(gen: torch.Generator, cfg: AugmentConfig) -> dict:
    """Keyword arguments of a random location-variant warp: ``translate``, ``scale``, ``fill``."""
    tx = draw_uniform(gen, -cfg.translate, cfg.translate)
    ty = draw_uniform(gen, -cfg.translate, cfg.translate)
    return {"translate": (tx, ty), "scale": draw_uniform(gen, *cfg.scale), "fill": cfg.fill}


def augment_sample(sample: SyntheticSample, gen: torch.Generator, cfg: AugmentConfig) -> SyntheticSample:
    """All three kinds, each drawn with its probability: pose-variant (flip, rotation) and
    location-variant (shift, scale) as one warp, then background swap, colour jitter, blur
    and occlusion."""
    do_flip = sample.part != "hand" and draw_uniform(gen) < cfg.flip_prob
    angle = draw_uniform(gen, -cfg.rotation_deg, cfg.rotation_deg) if draw_uniform(gen) < cfg.rotation_prob else 0.0
    out = warp_sample(sample, flip=do_flip, angle_deg=angle, **location_params(gen, cfg))
    if draw_uniform(gen) < cfg.background_prob:
        bg = make_background(gen, out.image_size, ("solid", "gradient", "noise"))
        out = swap_background(out, torch.from_numpy(bg).permute(2, 0, 1))
    return dataclasses.replace(out, image=image_variants(out.image, gen, cfg))


def image_variants(image: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig) -> torch.Tensor:
    """The image-variant augmentations of :func:`augment_sample` on a (3, S, S) image in [0, 1]:
    colour jitter, then blur and one occluding patch, each with its probability."""
    image = color_jitter(image, gen, cfg)
    if draw_uniform(gen) < cfg.blur_prob:
        image = blur(image, draw_uniform(gen, *cfg.blur_sigma_px))
    if draw_uniform(gen) < cfg.occlusion_prob:
        image = occlude(image, gen, cfg)
    return image


def positive_pair(sample: SyntheticSample, gen: torch.Generator, cfg: AugmentConfig) -> SyntheticSample:
    """The contrastive POSITIVE of ``sample`` (paper table 10): location-variant (shift, scale)
    and colour augmentations only, so the 3D pose, shape and joints3d are unchanged."""
    out = translate_scale(sample, **location_params(gen, cfg))
    return dataclasses.replace(out, image=color_jitter(out.image, gen, cfg))
