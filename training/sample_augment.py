"""The paper's augmentations (sec. 4.4) on :class:`TrainingSample` from any dataset adapter.

The same draws and math as ``robosmplx_core.data.augment`` (which works on synthetic samples),
with the geometry of ``training.robustness.warp_training_sample`` (labels, validity flags, K,
3D joints and SMPL-X ``global_orient`` / ``transl`` moved consistently):

- location-variant: the crop box shifted by ``+-translate`` box sides and scaled;
- pose-variant: in-plane rotation (with ``rotation_prob``). No horizontal flip: mirroring a
  real sample needs its left/right joint, part and parameter swaps for every adapter's flags,
  so ``AugmentConfig.flip_prob`` applies to synthetic samples only;
- image-variant: background swap (only with a ground-truth ``person_mask``), colour jitter,
  blur, occlusion patch (labels unchanged: amodal ground truth).

:func:`augment_training_sample` is the anchor's augmentation, :func:`training_positive_pair`
the contrastive positive (location + colour only, so the 3D pose is unchanged).
Everything random draws from a ``torch.Generator``. Glossary: S crop side.
"""

from __future__ import annotations

import dataclasses

import torch

from robosmplx_core.data.appearance import make_background
from robosmplx_core.data.augment import AugmentConfig, color_jitter, draw_uniform, image_variants, location_params
from robosmplx_core.data.datasets.common import TrainingSample
from training.robustness import warp_training_sample

__all__ = ["augment_training_sample", "training_positive_pair"]


def augment_training_sample(sample: TrainingSample, gen: torch.Generator, cfg: AugmentConfig) -> TrainingSample:
    """Rotation and shift / scale as one warp, then background swap (samples with a person
    mask), colour jitter, blur and occlusion, each with its probability.

    Args:
        sample: any adapter's sample, image (3, S, S) in [0, 1].
        gen: the generator every draw comes from.
        cfg: probabilities and ranges (``flip_prob`` unused, module docstring).

    Returns:
        The augmented sample: same S, flags kept (``params_valid`` of ``transl`` cleared by a
        rotation without ``has_pelvis3d``), ``joints_visible`` recomputed.
    """
    angle = draw_uniform(gen, -cfg.rotation_deg, cfg.rotation_deg) if draw_uniform(gen) < cfg.rotation_prob else 0.0
    out = warp_training_sample(sample, angle_deg=angle, **location_params(gen, cfg))
    if draw_uniform(gen) < cfg.background_prob and out.has_person_mask:
        bg = torch.from_numpy(make_background(gen, out.image_size, ("solid", "gradient", "noise"))).permute(2, 0, 1)
        out = dataclasses.replace(out, image=torch.where(out.person_mask[None], out.image, bg.to(out.image)))
    return dataclasses.replace(out, image=image_variants(out.image, gen, cfg))


def training_positive_pair(sample: TrainingSample, gen: torch.Generator, cfg: AugmentConfig) -> TrainingSample:
    """The contrastive POSITIVE of ``sample`` (paper table 10): shift / scale and colour only,
    so the 3D labels and the pose are unchanged (same shapes and flags as ``sample``)."""
    out = warp_training_sample(sample, **location_params(gen, cfg))
    return dataclasses.replace(out, image=color_jitter(out.image, gen, cfg))
