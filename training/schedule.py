"""Learning-rate schedules: a factor of the peak rate as a pure function of the optimizer step."""

from __future__ import annotations

import bisect
import math

import torch

from training.config import ScheduleConfig


def lr_factor(step: int, total_steps: int, cfg: ScheduleConfig) -> float:
    """Factor of ``optimizer.lr`` for optimizer step ``step`` (0-based) of ``total_steps``.

    Linear warm-up from ``warmup_start_ratio`` over ``warmup_steps``, then "cosine" decay to
    ``final_lr_ratio`` at the last step, or "step" decay by ``gamma`` at each milestone.
    """
    if step < cfg.warmup_steps:
        return cfg.warmup_start_ratio + (1.0 - cfg.warmup_start_ratio) * step / cfg.warmup_steps
    span = max(total_steps - 1 - cfg.warmup_steps, 1)
    frac = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    if cfg.kind == "cosine":
        return cfg.final_lr_ratio + (1.0 - cfg.final_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * frac))
    return cfg.gamma ** bisect.bisect_right(list(cfg.milestones), frac)


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int,
                    cfg: ScheduleConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`lr_factor` (its ``state_dict`` holds numbers only)."""

    def factor(step: int) -> float:  # a plain function: LambdaLR stores no state for it
        return lr_factor(step, total_steps, cfg)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
