"""Unrendered synthetic samples: the 2D and 3D joints of sampled poses, without images.

A lifter (``nets.lifter``) learns from 2D/3D pairs, not from pixels, and needs many more of
them than the rendered pool holds. ``sample_pose_bank`` draws the poses, shapes and cameras of
a :class:`~robosmplx_core.data.synthetic.SyntheticDataset`'s samples exactly as rendering
would (the same per-index generator and draws, so bank entry ``i`` has the pose, crop and
joints of ``dataset[i]``) but skips the rasteriser and the shading: the body model runs in
batches, about two orders of magnitude faster than rendering.

Glossary: M samples, J the part spec's joints, S crop side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm import tqdm

from robosmplx_core.data.sampling import sample_camera, sample_smplx_params
from robosmplx_core.data.synthetic import SyntheticDataset, _seed_of, _square_box
from robosmplx_core.geometry.camera import crop_intrinsics
from robosmplx_core.geometry.projection import perspective_projection
from robosmplx_core.types import SMPLXParams

__all__ = ["PoseBank", "sample_pose_bank"]


@dataclass(frozen=True)
class PoseBank:
    """Ground truth of M unrendered samples.

    joints2d: (M, J, 2) crop pixels; joints3d: (M, J, 3) camera frame, metres; global_orient:
    (M, 3, 3) the body's orientation in the camera frame; image_size: S.
    """

    joints2d: torch.Tensor
    joints3d: torch.Tensor
    global_orient: torch.Tensor
    image_size: int

    def __len__(self) -> int:
        return int(self.joints2d.shape[0])


@torch.no_grad()
def sample_pose_bank(ds: SyntheticDataset, indices: Sequence[int], *, chunk: int = 256,
                     progress: bool = True) -> PoseBank:
    """The ground truth of ``ds[i]`` for every ``i`` in ``indices``, without rendering.

    Raises:
        ValueError: no indices or ``chunk < 1``.
    """
    indices = list(indices)
    if not indices or chunk < 1:
        raise ValueError(f"sample_pose_bank: expected indices and chunk >= 1, got {len(indices)} indices, chunk {chunk}")
    cfg, m, size = ds.config, ds.model, ds.config.image_size
    out2d, out3d, orients = [], [], []
    bar = tqdm(total=len(indices), desc="pose bank", unit="sample", leave=False, disable=not progress)
    for start in range(0, len(indices), chunk):
        params, cams = [], []
        for i in indices[start:start + chunk]:
            gen = torch.Generator().manual_seed(_seed_of(cfg.seed, i))  # the draws of render_sample
            params.append(sample_smplx_params(gen, cfg.pose, num_betas=m.num_betas, num_expression=m.num_expression))
            cams.append(sample_camera(gen, cfg.camera))
        body = m(SMPLXParams.cat(params))
        delta = torch.stack([c.pelvis_m for c in cams]).to(body.joints) - body.joints[:, 0]
        verts = body.vertices[:, ds.part_vertices] + delta[:, None]
        joints = body.joints[:, ds.joint_index] + delta[:, None]
        K_full = torch.stack([c.K for c in cams]).to(verts)
        boxes = torch.stack([_square_box(p, cfg.resolved_crop_scale) for p in perspective_projection(verts, K_full)])
        box_xyxy = torch.cat([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], dim=1)
        K = crop_intrinsics(K_full, box_xyxy, size)
        out2d.append(perspective_projection(joints, K))
        out3d.append(joints)
        orients.append(torch.stack([p.global_orient[0] for p in params]))
        bar.update(len(params))
    bar.close()
    return PoseBank(joints2d=torch.cat(out2d), joints3d=torch.cat(out3d), global_orient=torch.cat(orients),
                    image_size=size)
