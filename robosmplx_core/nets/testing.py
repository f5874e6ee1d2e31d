"""Helpers for tests, parity checks and benchmarks of randomly initialised networks.

An untrained network in eval mode is well conditioned (fan-in init, residual branches starting
at zero, BN at identity statistics: activations stay O(1)), which is what float32 parity checks
need. Do NOT calibrate BatchNorm statistics on random data for such checks: per-layer
normalisation of a random deep network amplifies float32 rounding by 100-1000x.
``randomize_heads`` gives the zero-initialised output layers (mean-pose regressor, box head)
small random weights, so that parity checks compare non-trivial rotations and boxes.
"""

from __future__ import annotations

import torch
from torch import nn

from robosmplx_core.nets.config import NetworkConfig, SubnetConfig

TINY_SUBNET_KWARGS: dict[str, object] = dict(
    backbone="light", feature_channels=32, heatmap_depth=8, hidden_channels=32, segm_channels=16,
    mlp_channels=64, input_size=64,
)  # fmt: skip
"""Keyword arguments of a small, fast ``PartSubnetwork`` (64 px crops, light backbone)."""

TINY_SUBNET_CONFIG = SubnetConfig(**TINY_SUBNET_KWARGS)
TINY_NETWORK_CONFIG = NetworkConfig(body=TINY_SUBNET_CONFIG, hand=TINY_SUBNET_CONFIG, face=TINY_SUBNET_CONFIG,
                                    box_head_channels=16)
"""A small, fast ``WholeBodyNetwork`` configuration (three tiny subnetworks)."""


@torch.no_grad()
def randomize_heads(net: nn.Module, *, std: float = 0.02, seed: int = 0) -> nn.Module:
    """Small random weights for the zero-initialised last layers (``regressor_out``, box head)."""
    gen = torch.Generator().manual_seed(seed)
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear) and (name.endswith("regressor_out") or name.startswith("box_head")):
            module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * std)
    return net
