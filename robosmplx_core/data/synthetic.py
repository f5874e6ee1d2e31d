"""Synthetic training samples rendered on the fly: SMPL-X bodies over varied backgrounds.

Sample ``i`` of a dataset is a pure function of ``(config.seed, i)``: parameters
(:mod:`.sampling`), a camera and placement, a square crop around the body / right hand / head,
a hard z-buffer render (:mod:`robosmplx_core.render.zbuffer`) with clothing colours and
Lambertian shading (:mod:`.appearance`), and every ground truth of the three subnetworks.

Conventions:
    - camera frame = OpenCV optical (x right, y down, z forward), metres; the crop is rendered
      directly through its own pinhole ``K`` (the full-image camera cut and resampled to
      ``S x S``, see ``geometry.camera.crop_intrinsics``);
    - 2D points and boxes use the package's continuous pixel convention (pixel ``(r, c)``
      spans ``[c, c + 1] x [r, r + 1]``), so a joint at ``(u, v)`` lies in pixel
      ``(floor(v), floor(u))`` of the image and segmentation;
    - ``params`` are :class:`SMPLXParams` (rotation matrices, B = 1) whose ``transl`` places
      the body in the crop camera frame: the body model applied to them gives ``joints3d``;
    - hand crops are of the subject's RIGHT hand (the Hand subnetwork's convention); the pose
      sampler is left/right symmetric, so mirrored left hands would add nothing new;
    - boxes are squares ``(cx, cy, size)`` (``*_cxcys``) tightly around the projected
      vertices of the part; they may extend beyond the crop.

Glossary: S crop side, J joints of the part spec, V vertices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from robosmplx_core.body_model.model import BodyModel
from robosmplx_core.body_model.parts import BODY_PART_NAMES, part_labels
from robosmplx_core.data import appearance
from robosmplx_core.data.sampling import (
    CameraSamplingConfig, PoseSamplingConfig, sample_camera, sample_smplx_params,
)
from robosmplx_core.geometry.camera import crop_intrinsics, full_transl_to_crop_cam
from robosmplx_core.geometry.projection import perspective_projection
from robosmplx_core.nets.specs import PART_NAMES, part_spec, spec_joint_indices_144
from robosmplx_core.render.zbuffer import Raster, project_to_raster, rasterize
from robosmplx_core.types import SMPLXParams

__all__ = ["SyntheticConfig", "SyntheticSample", "SyntheticBatch", "SyntheticDataset",
           "collate_samples", "render_sample", "crop_camera", "resize_segmentation"]

DEFAULT_CROP_SCALE: dict[str, float] = {"body": 1.2, "hand": 1.5, "face": 1.4}
"""Side of the crop / side of the tight square box around the part's projected vertices."""


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic samples are drawn.

    Fields:
        seed: dataset seed; sample ``i`` depends only on ``(seed, i)``.
        length: number of samples the dataset reports.
        image_size: crop side S in pixels.
        part: "body" | "hand" | "face" (which crop and which labels).
        crop_scale: crop side / tight part box side; ``None`` = ``DEFAULT_CROP_SCALE[part]``.
        seg_size: side of the segmentation map the Segmentation head trains on (see
            :func:`resize_segmentation`; the sample keeps the full-resolution map).
        background_kinds: subset of ``appearance.BACKGROUND_KINDS``.
        use_media_photos: allow ``"photo"`` backgrounds from the media cache when present.
        pose, camera, lighting: sampler ranges.
    """

    seed: int = 0
    length: int = 100_000
    image_size: int = 256
    part: str = "body"
    crop_scale: float | None = None
    seg_size: int = 64
    background_kinds: tuple[str, ...] = appearance.BACKGROUND_KINDS
    use_media_photos: bool = True
    pose: PoseSamplingConfig = field(default_factory=PoseSamplingConfig)
    camera: CameraSamplingConfig = field(default_factory=CameraSamplingConfig)
    lighting: appearance.LightingConfig = field(default_factory=appearance.LightingConfig)

    def __post_init__(self) -> None:
        if self.part not in PART_NAMES:
            raise ValueError(f"SyntheticConfig.part: expected one of {PART_NAMES}, got {self.part!r}")
        if self.image_size < 8 or self.seg_size < 1 or self.length < 0:
            raise ValueError(f"SyntheticConfig: expected image_size >= 8, seg_size >= 1 and length >= 0, got "
                             f"{self.image_size}, {self.seg_size}, {self.length}")
        if self.crop_scale is not None and self.crop_scale <= 0:
            raise ValueError(f"SyntheticConfig.crop_scale: expected a positive factor, got {self.crop_scale}")
        bad = [k for k in self.background_kinds if k not in appearance.BACKGROUND_KINDS]
        if bad or not self.background_kinds:
            raise ValueError(f"SyntheticConfig.background_kinds: expected a non-empty subset of "
                             f"{appearance.BACKGROUND_KINDS}, got {self.background_kinds}")

    @property
    def resolved_crop_scale(self) -> float:
        """``crop_scale`` or the part's default."""
        return DEFAULT_CROP_SCALE[self.part] if self.crop_scale is None else float(self.crop_scale)


@dataclass(frozen=True)
class SyntheticSample:
    """One rendered crop with all its ground truth.

    Fields:
        image: (3, S, S) float32 RGB in [0, 1].
        params: :class:`SMPLXParams`, B = 1, ``transl`` in the crop camera frame.
        joints3d: (J, 3) the part spec's joints (``spec_joint_indices_144``), camera frame, metres.
        joints2d: (J, 2) their projections in crop pixels.
        joints_visible: (J,) bool, the projection lies inside the crop (occlusion ignored).
        segmentation: (S, S) int64, 0 background, ``k + 1`` = part ``k`` of the spec.
        person_mask: (S, S) bool, every pixel of the rendered body (all parts of all specs).
        left_hand_box_cxcys, right_hand_box_cxcys, face_box_cxcys: (3,) float32 squares
            ``(cx, cy, size)`` in crop pixels.
        K: (3, 3) float32 intrinsics of the crop.
        pelvis3d: (3,) the SMPL-X pelvis joint in the camera frame (= rest pelvis + transl),
            metres; lets augmentations that rotate or mirror the body update ``transl``.
        part: "body" | "hand" | "face".
        index: the sample index ``i``.
    """

    image: torch.Tensor
    params: SMPLXParams
    joints3d: torch.Tensor
    joints2d: torch.Tensor
    joints_visible: torch.Tensor
    segmentation: torch.Tensor
    person_mask: torch.Tensor
    left_hand_box_cxcys: torch.Tensor
    right_hand_box_cxcys: torch.Tensor
    face_box_cxcys: torch.Tensor
    K: torch.Tensor
    pelvis3d: torch.Tensor
    part: str
    index: int

    @property
    def image_size(self) -> int:
        """S."""
        return int(self.image.shape[-1])


@dataclass(frozen=True)
class SyntheticBatch:
    """B samples stacked: every tensor field of :class:`SyntheticSample` with a leading B,
    ``params`` concatenated (B people), ``part`` shared, ``index`` (B,) int64."""

    image: torch.Tensor
    params: SMPLXParams
    joints3d: torch.Tensor
    joints2d: torch.Tensor
    joints_visible: torch.Tensor
    segmentation: torch.Tensor
    person_mask: torch.Tensor
    left_hand_box_cxcys: torch.Tensor
    right_hand_box_cxcys: torch.Tensor
    face_box_cxcys: torch.Tensor
    K: torch.Tensor
    pelvis3d: torch.Tensor
    part: str
    index: torch.Tensor


_TENSOR_FIELDS = ("image", "joints3d", "joints2d", "joints_visible", "segmentation", "person_mask",
                  "left_hand_box_cxcys", "right_hand_box_cxcys", "face_box_cxcys", "K", "pelvis3d")


def collate_samples(samples: list[SyntheticSample]) -> SyntheticBatch:
    """Stack samples of one part into a :class:`SyntheticBatch` (a ``DataLoader`` collate_fn).

    Raises:
        ValueError: empty list or mixed parts / image sizes.
    """
    if not samples:
        raise ValueError("collate_samples: got no samples; use a DataLoader with batch_size >= 1")
    parts = {s.part for s in samples}
    sizes = {s.image_size for s in samples}
    if len(parts) != 1 or len(sizes) != 1:
        raise ValueError(f"collate_samples: samples mix parts {sorted(parts)} or sizes {sorted(sizes)}; "
                         "batch one SyntheticConfig at a time")
    stacked = {name: torch.stack([getattr(s, name) for s in samples]) for name in _TENSOR_FIELDS}
    params = SMPLXParams(**{f.name: torch.cat([getattr(s.params, f.name) for s in samples])
                            for f in dataclasses.fields(SMPLXParams)})
    return SyntheticBatch(**stacked, params=params, part=samples[0].part,
                          index=torch.tensor([s.index for s in samples], dtype=torch.int64))


def resize_segmentation(segmentation: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest-neighbour resize of an (..., S, S) label map to (..., size, size) (samples the
    source pixel under each target pixel centre; labels are never blended)."""
    s = segmentation.shape[-1]
    idx = ((torch.arange(size, dtype=torch.float64) + 0.5) * (s / size)).floor().long().clamp(max=s - 1)
    return segmentation[..., idx[:, None], idx[None, :]]


def crop_camera(sample: SyntheticSample | SyntheticBatch) -> torch.Tensor:
    """Weak-perspective crop camera ``[s, tx, ty]`` (HMR/CLIFF) of ``params.transl`` seen
    through the crop intrinsics ``K``: (3,) for a sample, (B, 3) for a batch."""
    K = sample.K if sample.K.ndim == 3 else sample.K[None]
    size = float(sample.image.shape[-1])
    b = K.shape[0]
    cam = full_transl_to_crop_cam(
        sample.params.transl.to(K.dtype), torch.full((b, 2), size / 2, dtype=K.dtype), size,
        torch.full((b, 2), size, dtype=K.dtype), K[:, 0, 0], principal_point_xy=K[:, :2, 2])
    return cam if sample.K.ndim == 3 else cam[0]


def _seed_of(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index)]).generate_state(1, dtype=np.uint64)[0]) >> 1


def _square_box(points: torch.Tensor, scale: float) -> torch.Tensor:
    """(3,) square ``(cx, cy, side)`` around (N, 2) points, side = scale * max extent."""
    lo, hi = points.amin(dim=0), points.amax(dim=0)
    return torch.cat([(lo + hi) / 2, (scale * (hi - lo).max()).reshape(1).clamp(min=1e-3)])


class SyntheticDataset(torch.utils.data.Dataset):
    """Deterministic on-the-fly synthetic samples: ``dataset[i]`` depends only on
    ``(config.seed, i)`` (and the body model file)."""

    def __init__(self, *, config: SyntheticConfig, model: BodyModel | None = None) -> None:
        self.config = config
        self.model = model if model is not None else BodyModel.load(use_face_contour=True)
        if self.model.num_joints != 144:
            raise ValueError("SyntheticDataset: the body model must be built with use_face_contour=True "
                             "(144 joints) to give the face spec's contour keypoints; "
                             "use BodyModel.load(..., use_face_contour=True)")
        self.faces = torch.as_tensor(self.model.faces, dtype=torch.int64)
        self.body_labels = part_labels(self.model, "body").vertex_labels
        self.hair = appearance.hair_vertices(self.model.layer.v_template, self.body_labels)
        with torch.no_grad():
            rest = self.model(SMPLXParams.zeros(1, num_betas=self.model.num_betas,
                                                num_expression=self.model.num_expression))
        self.marks = appearance.face_marks(rest.vertices[0], rest.joints[0], self.body_labels)
        self.labels = part_labels(self.model, config.part)
        self.part_vertices = torch.nonzero(self.labels.vertex_labels >= 0).squeeze(1)
        self.joint_index = torch.tensor(spec_joint_indices_144(part_spec(config.part)), dtype=torch.int64)
        head = part_labels(self.model, "face").vertex_labels >= 0
        self.box_vertices = {
            side: torch.nonzero(torch.isin(self.body_labels, torch.tensor(
                [BODY_PART_NAMES.index(f"{s}_wrist"), BODY_PART_NAMES.index(f"{s}_hand")]))).squeeze(1)
            for side, s in (("left_hand", "left"), ("right_hand", "right"))
        } | {
            "face": torch.nonzero(head).squeeze(1),
        }
        self.photos = appearance.available_photos() if config.use_media_photos else ()

    def __len__(self) -> int:
        return self.config.length

    def __getitem__(self, index: int) -> SyntheticSample:
        if not 0 <= int(index) < len(self):
            raise IndexError(f"SyntheticDataset: index {index} out of range [0, {len(self)})")
        return render_sample(self, int(index))


def _pose_and_place(ds: SyntheticDataset, gen: torch.Generator) -> tuple[SMPLXParams, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sampled params placed in the full camera: (params, vertices (V, 3), joints (144, 3), K_full)."""
    m = ds.model
    params = sample_smplx_params(gen, ds.config.pose, num_betas=m.num_betas, num_expression=m.num_expression)
    cam = sample_camera(gen, ds.config.camera)
    with torch.no_grad():
        out = m(params)
    delta = cam.pelvis_m - out.joints[0, 0]
    params = dataclasses.replace(params, transl=delta[None].to(params.transl.dtype))
    return params, out.vertices[0] + delta, out.joints[0] + delta, cam.K


def render_sample(ds: SyntheticDataset, index: int) -> SyntheticSample:
    """Draw and render sample ``index`` of dataset ``ds`` (see the module doc)."""
    cfg, size = ds.config, ds.config.image_size
    gen = torch.Generator().manual_seed(_seed_of(cfg.seed, index))
    params, verts, joints, K_full = _pose_and_place(ds, gen)
    box = _square_box(perspective_projection(verts[ds.part_vertices][None], K_full)[0], cfg.resolved_crop_scale)
    box_xyxy = torch.cat([box[:2] - box[2] / 2, box[:2] + box[2] / 2])[None]
    K = crop_intrinsics(K_full, box_xyxy, size)[0]
    verts_px = project_to_raster(verts[None], K)
    raster = rasterize(verts_px, ds.faces, size, size, cull_backfaces=True)
    fi = raster.face_index[0]
    mask = fi >= 0
    seg = torch.where(mask, ds.labels.face_labels[fi.clamp(min=0)] + 1, torch.zeros((), dtype=torch.int64))
    image = _shade(ds, gen, verts, raster, mask, size)
    joints_sel = joints[ds.joint_index]
    joints2d = perspective_projection(joints_sel[None], K)[0]
    uv = verts_px[0, :, :2] + 0.5  # back to continuous pixels
    boxes = {k: _square_box(uv[v], 1.0) for k, v in ds.box_vertices.items()}
    return SyntheticSample(
        image=image, params=params, joints3d=joints_sel, joints2d=joints2d,
        joints_visible=((joints2d >= 0) & (joints2d < size)).all(dim=-1), segmentation=seg,
        person_mask=mask, left_hand_box_cxcys=boxes["left_hand"], right_hand_box_cxcys=boxes["right_hand"],
        face_box_cxcys=boxes["face"], K=K, pelvis3d=joints[0], part=cfg.part, index=index,
    )


def _shade(ds: SyntheticDataset, gen: torch.Generator, verts: torch.Tensor, raster: Raster, mask: torch.Tensor,
           size: int) -> torch.Tensor:
    """(3, S, S) image: shaded body over a background."""
    cfg = ds.config
    background = torch.from_numpy(appearance.make_background(gen, size, cfg.background_kinds, ds.photos))
    albedo = appearance.clothing_albedo(gen, ds.body_labels, cfg.lighting, ds.hair, ds.marks)
    normals = appearance.vertex_normals(verts, ds.faces)
    tri = ds.faces[raster.face_index[0][mask]]  # (M, 3)
    bary = raster.bary[0][mask][..., None]  # (M, 3, 1)
    albedo_px = (albedo[tri] * bary).sum(dim=1)
    normal_px = (normals[tri] * bary).sum(dim=1)
    normal_px = normal_px / normal_px.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    image = background.clone()
    image[mask] = appearance.shade_pixels(gen, albedo_px, normal_px, cfg.lighting)
    return image.permute(2, 0, 1).contiguous()
