"""Facing branch: does the person face the camera? Read from a head patch (an addition to the paper).

Why: the body's 2D keypoints say where the limbs are, not which side is which. A person seen
from the front and the same pose seen from the back give nearly the same 2D skeleton with the
left and right limbs swapped; only the front/back cues (face, neckline, chest print, hair)
tell them apart. On this project's CPU budget the backbone does not learn those cues from the
whole crop (README, "Learning check"); a small CNN on a patch around the head does.

``FacingHead`` places a square patch on the 2D keypoint stage's head keypoints (ears, eyes,
nose: their mean is the centre) sized by the neck-to-pelvis distance (the face box is about
half of it), samples it bilinearly from the crop (``grid_sample``, grid built by broadcasting
so it exports to ONNX), and returns one logit per crop: > 0 means the body's front faces the
camera. The target (``facing_targets``) is the sign of the body's forward axis along the
camera's viewing direction.

Coordinates are the keypoint stage's: normalised ``[-1, 1]`` crop coordinates
(``nets.keypoints``). The head and torso keypoints are indices of the body spec's first 25
joints (``keypoint_sets.WHOLEBODY137_NAMES``).

Glossary: B batch, N keypoints (>= 25), S crop side, P patch side.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from robosmplx_core.checks import check_shape

__all__ = ["HEAD_KEYPOINTS", "FacingHead", "facing_targets", "head_patch_boxes", "sample_patches"]

HEAD_KEYPOINTS = (20, 21, 22, 23, 24)
"""left ear, right ear, left eye, right eye, nose in the body spec's joint order."""
NECK, PELVIS = 7, 0
MIN_KEYPOINTS = max(HEAD_KEYPOINTS) + 1
PATCH_PER_TORSO = 0.7
"""Patch side / neck-to-pelvis distance (the ground-truth face box is ~0.52 of it on the
synthetic set, 5-95% 0.44-0.61; the patch keeps a margin for keypoint error)."""
MIN_PATCH = 0.08
"""Smallest patch side in normalised crop units (5 px of a 128 px crop)."""


def facing_targets(global_orient: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 3)`` body global orientations (camera frame, z forward) -> ``(B,)`` float targets:
    1 where the body's forward axis (its model +z, column 2) points towards the camera, else 0."""
    check_shape(global_orient, "B 3 3", name="global_orient")
    return (global_orient[:, 2, 2] < 0).to(global_orient.dtype)


def head_patch_boxes(keypoints: torch.Tensor) -> torch.Tensor:
    """Keypoints ``(B, N >= 25, 2)`` (normalised crop coordinates) -> patches ``(B, 3)``: centre
    x, y and side, in the same units (module docstring)."""
    check_shape(keypoints, "B N 2", name="keypoints")
    if keypoints.shape[1] < MIN_KEYPOINTS:
        raise ValueError(f"head_patch_boxes: needs the body spec's first {MIN_KEYPOINTS} keypoints (head, neck, "
                         f"pelvis), got {keypoints.shape[1]}; build the network with keypoint_joints >= 25")
    centre = keypoints[:, list(HEAD_KEYPOINTS)].mean(dim=1)
    side = (PATCH_PER_TORSO * (keypoints[:, NECK] - keypoints[:, PELVIS]).norm(dim=-1)).clamp(min=MIN_PATCH)
    return torch.cat([centre, side[:, None]], dim=1)


def sample_patches(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear square patches ``(B, C, size, size)`` of ``images (B, C, S, S)`` at ``boxes (B, 3)``
    (centre x, y, side; normalised crop coordinates), zeros outside the crop."""
    steps = (2.0 * torch.arange(size, dtype=images.dtype, device=images.device) + 1.0) / size - 1.0
    half = 0.5 * boxes[:, 2:3]
    gx = (boxes[:, 0:1] + steps[None, :] * half)[:, None, :].expand(-1, size, -1)
    gy = (boxes[:, 1:2] + steps[None, :] * half)[:, :, None].expand(-1, -1, size)
    return F.grid_sample(images, torch.stack([gx, gy], dim=-1), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FacingHead(nn.Module):
    """Crops ``(B, 3, S, S)`` + keypoints ``(B, N, 2)`` -> facing logits ``(B,)`` (module docstring).

    A six-layer CNN on a ``patch_size`` patch: two 3 x 3 conv-BN-ReLU blocks per width
    (``channels``, 2x, 4x), max-pooled twice, global average pool, one linear layer.

    Args:
        patch_size: P, the patch's side in pixels.
        channels: width of the first blocks.
    """

    def __init__(self, *, patch_size: int = 32, channels: int = 16) -> None:
        super().__init__()
        if patch_size < 8 or channels < 1:
            raise ValueError(f"FacingHead: patch_size >= 8 and channels >= 1 expected, got {patch_size}, {channels}")
        self.patch_size = patch_size
        c = channels
        self.layers = nn.Sequential(_block(3, c), _block(c, c), nn.MaxPool2d(2), _block(c, 2 * c),
                                    _block(2 * c, 2 * c), nn.MaxPool2d(2), _block(2 * c, 4 * c),
                                    _block(4 * c, 4 * c), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                    nn.Linear(4 * c, 1))  # fmt: skip

    def forward(self, images: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
        """Normalised crops ``(B, 3, S, S)`` and their keypoints ``(B, N >= 25, 2)`` -> ``(B,)`` logits."""
        return self.classify(sample_patches(images, head_patch_boxes(keypoints), self.patch_size))

    def classify(self, patches: torch.Tensor) -> torch.Tensor:
        """Head patches ``(B, 3, P, P)`` -> ``(B,)`` logits."""
        return self.layers(patches).squeeze(1)
