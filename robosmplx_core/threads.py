"""CPU thread settings for the real-time pipeline's entry points (CLI, ROS node, bag tool,
benchmarks); libraries never call this.

MediaPipe Holistic already keeps ~1.35 of 2 cores busy (47 ms of CPU per 35 ms frame on this
machine). The pipeline's own torch work is small (joints of a few persons, overlay meshes), and
a second torch intra-op thread only contends with MediaPipe: single-person streaming throughput
went from 0.78x to 0.82x bare MediaPipe with one torch thread (``benchmarks/pipeline_speed.py``).
"""

from __future__ import annotations

import torch

PIPELINE_TORCH_THREADS = 1


def use_pipeline_threads() -> None:
    """Set torch's intra-op threads for real-time inference (call once, at start-up)."""
    torch.set_num_threads(PIPELINE_TORCH_THREADS)
