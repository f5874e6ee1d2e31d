"""Keypoint lifter: the body's parameters from its 2D keypoints (an addition to the paper).

Lifting 2D keypoints to a 3D pose is a small problem that needs many examples (Martinez et al.
2017 train a two-layer MLP on millions). The regressor of ``nets.subnet`` sees one example per
image and step; on this project's CPU budget it never gets enough of them (README, "Learning
check"). ``KeypointLifter`` is that MLP, trained on cheap examples: ground-truth 2D keypoints
of many crops per step, without running the image network (``training.loop``). Its output is
added to the regressor's, so the regressor learns a correction on top of it.

Input: the keypoints ``(B, N, 2)`` (normalised crop coordinates), centred on their mean and
divided by their RMS spread (so the pose does not depend on the crop's placement and scale),
that mean and spread (for the camera), and, with the facing branch, the facing probability
``(B,)``. Output: ``(B, F)`` additions to the
regressor's flat output (``F`` = its size; the last layer starts at zero, so an untrained
lifter changes nothing).

Glossary: B batch, N keypoints, F flat output size.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from robosmplx_core.checks import check_shape

__all__ = ["KeypointLifter"]


class KeypointLifter(nn.Module):
    """``(B, N, 2)`` keypoints (+ ``(B,)`` facing probability) -> ``(B, F)`` (module docstring).

    Args:
        num_keypoints: N.
        out_features: F.
        with_facing: read a facing probability as well.
        hidden: width of the two hidden layers.
    """

    def __init__(self, *, num_keypoints: int, out_features: int, with_facing: bool, hidden: int = 1024) -> None:
        super().__init__()
        if min(num_keypoints, out_features, hidden) < 1:
            raise ValueError("KeypointLifter: num_keypoints, out_features and hidden must all be >= 1")
        self.num_keypoints, self.with_facing = num_keypoints, with_facing
        self.layers = nn.Sequential(nn.Linear(2 * num_keypoints + 3 + int(with_facing), hidden), nn.ReLU(inplace=True),
                                    nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.out = nn.Linear(hidden, out_features)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, keypoints: torch.Tensor, facing_prob: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Keypoints ``(B, N, 2)`` and, ``with_facing``, probabilities ``(B,)`` -> ``(B, F)``."""
        check_shape(keypoints, f"B {self.num_keypoints} 2", name="keypoints")
        if self.with_facing != (facing_prob is not None):
            raise ValueError(f"KeypointLifter: built with_facing={self.with_facing}, so facing_prob must be "
                             f"{'given' if self.with_facing else 'None'}")
        centred = keypoints - keypoints.mean(dim=1, keepdim=True)
        spread = centred.pow(2).sum(dim=-1).mean(dim=1, keepdim=True).sqrt().clamp(min=1e-3)  # (B, 1)
        inputs = [(centred / spread[..., None]).flatten(1), keypoints.mean(dim=1), spread]
        if facing_prob is not None:
            inputs.append(facing_prob.to(keypoints.dtype)[:, None])
        return self.out(self.layers(torch.cat(inputs, dim=1)))
