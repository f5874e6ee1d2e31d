"""The paper's robustness protocol on evaluation crops: perturbations and the loop that runs them.

Perturbations (paper sec. 3, figure 1, tables 4, 5 and 7) act on :class:`EvalItem` s, i.e. on a
:class:`~robosmplx_core.data.datasets.TrainingSample` crop (any adapter, the synthetic set
included) plus an optional ground-truth mesh:

- location-variant (tables 4, 5, 7): the crop box moved by ``+-0.2`` box sides in x or y, or
  scaled by 1.3 / 0.7 (the names and values of ``training.evaluate.SHIFTS``); 3D labels are
  unchanged, 2D labels, boxes and the crop intrinsics follow;
- image-variant (figure 1): contrast, sharpness, brightness, hue, grayscale; labels unchanged;
- pose-variant (figure 1): in-plane rotation about the crop centre; the 3D labels, the GT mesh,
  SMPL-X ``global_orient`` and ``transl`` rotate with the image (as ``data.augment.warp_sample``).

Geometric perturbations resample the crop itself (``data.augment.similarity``), so content from
outside the original crop is black (``fill``), whereas the paper moves the box on the full
image. With the adapters' crop margins (1.2-1.5 x the tight box) the subject stays inside for
the protocol's shifts, but ``scale_1.3`` shows a black border a full-image re-crop would not.

Levels of the image-variant set: appendix A of the paper is not in our copy; the operations
follow the RoboSMPLX code's ``ControlledColorTransform`` (mmcv's ``adjust_*`` with a factor
``1 + magnitude``; its configs use magnitudes +-0.4 / +-0.5), and we take one level per type
(:class:`ProtocolLevels`): contrast, sharpness and brightness at factor 0.5 (magnitude -0.5:
flatter, softer, darker), hue shifted by 0.1 of the hue circle (36 degrees; mmcv allows
[-0.5, 0.5], 0.5 being the complementary colour), grayscale complete (saturation 0), rotation
30 degrees (the default of the code's ``ControlledRotation``).

Image ops take (3, S, S) float RGB in [0, 1] and return the same, clamped. Glossary: S crop
side, J joints, V vertices.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from robosmplx_core.checks import check_shape
from robosmplx_core.data.augment import apply_affine, similarity, warp_image
from robosmplx_core.data.datasets.common import PARAM_FIELDS, TrainingSample
from robosmplx_core.eval import MetricAccumulator, MetricSummary

__all__ = [
    "EvalItem", "ScanTruth", "Perturbation", "ProtocolLevels", "NORMAL", "IMAGE_OPS", "robustness_protocol",
    "adjust_brightness", "adjust_contrast", "adjust_sharpness", "adjust_hue", "to_grayscale",
    "warp_training_sample", "perturb", "run_protocol",
]  # fmt: skip

_GREY_WEIGHTS_RGB = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as cv2 / mmcv rgb2gray
_SMOOTH_KERNEL = torch.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0  # PIL/mmcv SMOOTH
_TRANSL = PARAM_FIELDS.index("transl")
_GLOBAL_ORIENT = PARAM_FIELDS.index("global_orient")


@dataclass(frozen=True)
class ScanTruth:
    """A ground-truth surface in its own frame, not in correspondence with SMPL-X (Stirling scans).

    Fields:
        points: (N, 3) float64 scan points that are evaluated (e.g. the inner-face region), metres.
        landmarks: (L, 3) float64 landmarks of the scan, metres.
        landmark_joints: (L,) indices of the same landmarks in the part spec's J joints; the
            prediction is moved onto the scan by the similarity fitted on them.
    """

    points: torch.Tensor
    landmarks: torch.Tensor
    landmark_joints: tuple[int, ...]

    def __post_init__(self) -> None:
        check_shape(self.points, "N 3", name="ScanTruth.points")
        check_shape(self.landmarks, f"{len(self.landmark_joints)} 3", name="ScanTruth.landmarks")


@dataclass(frozen=True)
class EvalItem:
    """One evaluation crop and the ground truth that is not in :class:`TrainingSample`.

    Fields:
        sample: the crop and its labels.
        gt_vertices: (V, 3) float32 ground-truth SMPL-X mesh in the crop's camera frame, metres,
            for sources whose ground truth is a mesh (EHF); None where the mesh comes from
            ``sample.params`` (or there is none).
        gt_scan: a scan in its own frame (Stirling), compared after a landmark similarity fit, so
            no perturbation changes it; None otherwise.
        person_box_xyxy: (4,) the person box a whole-body network is given (image pixels), set
            by the whole-body robustness protocol (``training.wholebody_eval``); None = derive it
            from the labels (``training.wholebody.person_boxes``).
    """

    sample: TrainingSample
    gt_vertices: Optional[torch.Tensor] = None
    gt_scan: Optional[ScanTruth] = None
    person_box_xyxy: Optional[torch.Tensor] = None

    def __post_init__(self) -> None:
        if self.gt_vertices is not None:
            check_shape(self.gt_vertices, "V 3", name="EvalItem.gt_vertices")
        if self.person_box_xyxy is not None:
            check_shape(self.person_box_xyxy, "4", name="EvalItem.person_box_xyxy")


# ----------------------------------------------------------------------------- image ops


def _grey(image: torch.Tensor) -> torch.Tensor:
    """(1, S, S) luma of a (3, S, S) RGB image."""
    w = torch.tensor(_GREY_WEIGHTS_RGB, dtype=image.dtype, device=image.device)
    return (image * w[:, None, None]).sum(0, keepdim=True)


def adjust_brightness(image: torch.Tensor, factor: float) -> torch.Tensor:
    """``factor * image`` (mmcv ``adjust_brightness``: blend with black); 1 = unchanged."""
    return (image * factor).clamp(0.0, 1.0)


def adjust_contrast(image: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with the mean grey level (mmcv ``adjust_contrast``); 1 = unchanged, 0 = flat grey."""
    mean = _grey(image).mean()
    return (image * factor + mean * (1.0 - factor)).clamp(0.0, 1.0)


def adjust_sharpness(image: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with the 3 x 3 SMOOTH-filtered image, border pixels kept (mmcv ``adjust_sharpness``);
    1 = unchanged, 0 = smoothed, > 1 sharpened."""
    kernel = _SMOOTH_KERNEL.to(image)[None, None].expand(3, 1, 3, 3)
    smooth = image.clone()
    smooth[:, 1:-1, 1:-1] = F.conv2d(image[None], kernel, groups=3)[0]
    return (image * factor + smooth * (1.0 - factor)).clamp(0.0, 1.0)


def adjust_hue(image: torch.Tensor, shift: float) -> torch.Tensor:
    """Rotate the HSV hue by ``shift`` turns (mmcv ``adjust_hue``'s ``hue_factor``, in [-0.5, 0.5]);
    0 = unchanged. Saturation and value are kept."""
    rgb = image.permute(1, 2, 0).contiguous().cpu().numpy().astype(np.float32)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)  # float input: H in [0, 360)
    hsv[..., 0] = np.mod(hsv[..., 0] + 360.0 * shift, 360.0)
    out = torch.from_numpy(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)).permute(2, 0, 1)
    return out.to(image).clamp(0.0, 1.0).contiguous()


def to_grayscale(image: torch.Tensor, saturation: float = 0.0) -> torch.Tensor:
    """Blend with the luma image (mmcv ``adjust_color``'s ``alpha``): 0 = grey in all three
    channels, 1 = unchanged."""
    return (image * saturation + _grey(image) * (1.0 - saturation)).clamp(0.0, 1.0)


IMAGE_OPS: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "contrast": adjust_contrast,
    "sharpness": adjust_sharpness,
    "brightness": adjust_brightness,
    "hue": adjust_hue,
    "grayscale": to_grayscale,
}
"""Image-variant operations of figure 1: name -> ``op(image (3, S, S), level) -> image``."""


# ----------------------------------------------------------------------------- perturbations


@dataclass(frozen=True)
class Perturbation:
    """One perturbation of the protocol.

    Fields:
        name: key in the JSON output (location-variant ones as ``training.evaluate.SHIFTS``).
        label: column header of the printed table (the paper's wording).
        kind: "location" | "image" | "pose" (the paper's three categories).
        translate: crop-box shift (x, y) in box sides; scale: crop-box scale (> 1 zooms out).
        angle_deg: in-plane rotation, degrees, clockwise on screen.
        image_op: key of ``IMAGE_OPS`` or None; level: its argument.
    """

    name: str
    label: str
    kind: str
    translate: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    angle_deg: float = 0.0
    image_op: Optional[str] = None
    level: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("location", "image", "pose"):
            raise ValueError(f"Perturbation {self.name!r}: kind must be location, image or pose, got {self.kind!r}")
        if self.image_op is not None and self.image_op not in IMAGE_OPS:
            raise ValueError(f"Perturbation {self.name!r}: image_op must be one of {sorted(IMAGE_OPS)}, "
                             f"got {self.image_op!r}")
        if self.scale <= 0:
            raise ValueError(f"Perturbation {self.name!r}: scale must be positive, got {self.scale}")

    @property
    def is_geometric(self) -> bool:
        """The crop is resampled (shift, scale or rotation)."""
        return self.translate != (0.0, 0.0) or self.scale != 1.0 or self.angle_deg != 0.0

    @property
    def is_identity(self) -> bool:
        """Changes nothing (the "normal" column)."""
        return not self.is_geometric and self.image_op is None


NORMAL = Perturbation("normal", "Normal", "location")


@dataclass(frozen=True)
class ProtocolLevels:
    """Levels of the protocol (module docstring gives the sources).

    translate: box shift in box sides; scales: the two box scales (zoom out, zoom in);
    contrast, sharpness, brightness: blend factors (1 = unchanged); hue: shift in turns;
    grayscale: remaining saturation (0 = grey); rotation_deg: in-plane rotation, degrees.
    """

    translate: float = 0.2
    scales: tuple[float, float] = (1.3, 0.7)
    contrast: float = 0.5
    sharpness: float = 0.5
    brightness: float = 0.5
    hue: float = 0.1
    grayscale: float = 0.0
    rotation_deg: float = 30.0


def robustness_protocol(levels: ProtocolLevels = ProtocolLevels()) -> tuple[Perturbation, ...]:
    """Normal, the six location-variant perturbations (tables 4, 5, 7), then the image-variant
    set of figure 1 and rotation, in that order."""
    t = levels.translate
    location = (
        NORMAL,
        Perturbation(f"translate_x+{t:g}", f"Transx +{t:g}x", "location", translate=(t, 0.0)),
        Perturbation(f"translate_x-{t:g}", f"Transx -{t:g}x", "location", translate=(-t, 0.0)),
        Perturbation(f"translate_y+{t:g}", f"Transy +{t:g}y", "location", translate=(0.0, t)),
        Perturbation(f"translate_y-{t:g}", f"Transy -{t:g}y", "location", translate=(0.0, -t)),
        *(Perturbation(f"scale_{s:g}", f"Scale {s:g}x", "location", scale=s) for s in levels.scales),
    )
    image = (
        Perturbation("contrast", f"Contrast {levels.contrast:g}x", "image", image_op="contrast", level=levels.contrast),
        Perturbation("sharpness", f"Sharpness {levels.sharpness:g}x", "image", image_op="sharpness",
                     level=levels.sharpness),
        Perturbation("brightness", f"Brightness {levels.brightness:g}x", "image", image_op="brightness",
                     level=levels.brightness),
        Perturbation("hue", f"Hue {levels.hue:+g}", "image", image_op="hue", level=levels.hue),
        Perturbation("grayscale", "Grayscale", "image", image_op="grayscale", level=levels.grayscale),
    )
    rotation = Perturbation(f"rotate_{levels.rotation_deg:g}", f"Rot {levels.rotation_deg:g}deg", "pose",
                            angle_deg=levels.rotation_deg)
    return location + image + (rotation,)


def _rot_z(angle_deg: float) -> torch.Tensor:
    a = math.radians(angle_deg)
    return torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])


def warp_training_sample(sample: TrainingSample, *, angle_deg: float = 0.0, translate: tuple[float, float] = (0.0, 0.0),
                         scale: float = 1.0, fill: float = 0.0) -> TrainingSample:
    """Rotate / shift / scale a crop and move every label with it (``data.augment.warp_sample``
    for :class:`TrainingSample`, without flips).

    The image is resampled bilinearly (``fill`` outside), segmentation and mask by nearest
    neighbour (0 outside); joints2d, valid boxes and ``K`` follow the 2D map; joints3d, pelvis3d
    and SMPL-X ``global_orient`` / ``transl`` rotate with the camera-frame rotation about the
    optical axis. Without ``has_pelvis3d`` a rotated ``transl`` cannot be derived: it is marked
    invalid in ``params_valid``. ``joints_visible`` is recomputed (labelled and inside the crop).
    """
    size = sample.image_size
    A = similarity(size, angle_deg=angle_deg, translate=translate, scale=scale)
    Q = _rot_z(angle_deg)
    image = warp_image(sample.image.permute(1, 2, 0).contiguous().numpy(), A, size, nearest=False, fill=fill)
    seg = warp_image(sample.segmentation.to(torch.int32).numpy(), A, size, nearest=True, fill=0)
    mask = warp_image(sample.person_mask.to(torch.uint8).numpy(), A, size, nearest=True, fill=0)
    joints2d = apply_affine(A, sample.joints2d)
    zoom = float(torch.linalg.det(A[:, :2]).abs().sqrt())
    boxes = [torch.cat([apply_affine(A, b[None, :2])[0], b[2:] * zoom]) if ok else b
             for b, ok in zip((sample.left_hand_box_cxcys, sample.right_hand_box_cxcys, sample.face_box_cxcys),
                              sample.boxes_valid.tolist())]  # fmt: skip
    K = sample.K.clone()
    K[0, 0], K[1, 1] = K[0, 0] * zoom, K[1, 1] * zoom
    K[:2, 2] = apply_affine(A, sample.K[:2, 2][None])[0]
    pelvis = Q.to(sample.pelvis3d) @ sample.pelvis3d
    params, valid = sample.params, sample.params_valid.clone()
    if angle_deg != 0.0:
        if bool(valid[_GLOBAL_ORIENT]):
            params = dataclasses.replace(params, global_orient=Q.to(params.global_orient) @ params.global_orient)
        if sample.has_pelvis3d:
            rest_pelvis = sample.pelvis3d - sample.params.transl[0].to(sample.pelvis3d)  # J0(betas)
            params = dataclasses.replace(params, transl=(pelvis - rest_pelvis)[None].to(params.transl))
        else:
            valid[_TRANSL] = False
    inside = ((joints2d >= 0) & (joints2d < size)).all(dim=-1)
    return dataclasses.replace(
        sample, image=torch.from_numpy(image).permute(2, 0, 1).contiguous(), params=params, params_valid=valid,
        joints2d=joints2d, joints_visible=inside & (sample.joints2d_conf > 0),
        joints3d=sample.joints3d @ Q.T.to(sample.joints3d), segmentation=torch.from_numpy(seg).long(),
        person_mask=torch.from_numpy(mask) > 0, left_hand_box_cxcys=boxes[0], right_hand_box_cxcys=boxes[1],
        face_box_cxcys=boxes[2], K=K, pelvis3d=pelvis,
    )


def perturb(item: EvalItem, perturbation: Perturbation, *, fill: float = 0.0) -> EvalItem:
    """``item`` under ``perturbation``: geometric part first (labels and GT mesh follow; a GT scan,
    in its own frame, stays), then the image op. The identity perturbation returns ``item`` itself."""
    if perturbation.is_identity:
        return item
    sample, verts = item.sample, item.gt_vertices
    if perturbation.is_geometric:
        sample = warp_training_sample(sample, angle_deg=perturbation.angle_deg, translate=perturbation.translate,
                                      scale=perturbation.scale, fill=fill)
        if verts is not None:
            verts = verts @ _rot_z(perturbation.angle_deg).T.to(verts)
    if perturbation.image_op is not None:
        sample = dataclasses.replace(sample, image=IMAGE_OPS[perturbation.image_op](sample.image, perturbation.level))
    return EvalItem(sample=sample, gt_vertices=verts, gt_scan=item.gt_scan, person_box_xyxy=item.person_box_xyxy)


Evaluator = Callable[[Sequence[EvalItem]], dict[str, torch.Tensor]]
"""Per-sample metrics of a batch of items: name -> (B,) values, NaN = no value (skipped)."""


def run_protocol(evaluate: Evaluator, items: Iterable[EvalItem], perturbations: Sequence[Perturbation], *,
                 batch_size: int = 16, on_batch: Optional[Callable[[int], None]] = None,
                 perturb_item: Callable[[EvalItem, Perturbation], EvalItem] = perturb) -> dict[str, MetricSummary]:
    """Every perturbation on every item; returns ``{perturbation name: MetricSummary}``.
    ``perturb_item`` applies one perturbation (default :func:`perturb`; whole-body networks
    move their person box instead: ``training.wholebody_eval.perturb_wholebody``).

    Items are read once, in batches of ``batch_size``; each batch is perturbed in every way and
    evaluated, so memory holds one batch at a time. ``on_batch(n)`` is called after each batch
    of n items (e.g. a progress bar's ``update``).

    Raises:
        ValueError: no perturbations, duplicate names, batch_size < 1, or no items at all.
    """
    names = [p.name for p in perturbations]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"run_protocol: expected perturbations with distinct names, got {names}")
    if batch_size < 1:
        raise ValueError(f"run_protocol: batch_size must be >= 1, got {batch_size}")
    accumulators = {name: MetricAccumulator() for name in names}
    batch: list[EvalItem] = []
    seen = 0

    def flush() -> None:
        for p in perturbations:
            accumulators[p.name].update(evaluate([perturb_item(item, p) for item in batch]))
        if on_batch is not None:
            on_batch(len(batch))
        batch.clear()

    for item in items:
        batch.append(item)
        seen += 1
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not seen:
        raise ValueError("run_protocol: the dataset gave no samples; check the dataset folder / sample count")
    return {name: acc.summary() for name, acc in accumulators.items()}
