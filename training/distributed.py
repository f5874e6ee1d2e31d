"""Process group set-up for ``torchrun`` (DistributedDataParallel), and the single-process case.

    torchrun --nproc_per_node 4 -m training.train training/configs/body.yaml

``torchrun`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
with ``WORLD_SIZE`` > 1 the group uses NCCL on CUDA and gloo on CPU. Rank 0 is the only
process that writes checkpoints, logs and progress bars.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    """rank, world_size, local_rank (GPU index on this node), device of this process."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: writes checkpoints and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r}: expected an integer (set by torchrun)") from None


def _pick_device(requested: str, local_rank: int) -> torch.device:
    cuda = torch.cuda.is_available()
    if requested == "cuda" and not cuda:
        raise ValueError("device=cuda but torch sees no CUDA device; use device=auto or device=cpu")
    if requested == "cuda" or (requested == "auto" and cuda):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device: str = "auto") -> DistEnv:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1, and pick this process's device."""
    world = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    dev = _pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
            raise ValueError("WORLD_SIZE > 1 but MASTER_ADDR / MASTER_PORT are not set: start multi-process "
                             "runs with torchrun (python -m torch.distributed.run --nproc_per_node N ...)")
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return DistEnv(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def shutdown(env: DistEnv) -> None:
    """Leave the process group (no-op for one process)."""
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    """Wait for every process (no-op for one process)."""
    if env.distributed:
        dist.barrier()


def mean_over_processes(values: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Element-wise mean of ``values`` over the processes (itself for one process)."""
    if not env.distributed:
        return values
    out = values.detach().clone().to(env.device)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / env.world_size
