"""Multi-process training with torch.distributed (launched by torchrun): set-up, DDP wrapping,
and agreeing across ranks on when to stop.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them training runs in
one process and nothing here does anything. Backend: nccl on CUDA, gloo on CPU.
Rank 0 alone logs, validates and writes checkpoints; every rank trains on its
own share of each epoch (the sampler shards by rank).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError
from ..models import unwrap  # noqa: F401 - re-exported for the trainer


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> DistInfo:
    """Rank information set by torchrun (single process when absent)."""
    try:
        return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise ConfigError("RANK / WORLD_SIZE / LOCAL_RANK must be integers (as torchrun sets them)") from None


def setup(info: DistInfo, device: torch.device) -> torch.device:
    """Join the process group; on CUDA each rank takes the GPU of its local rank."""
    if not info.enabled:
        return device
    if device.type == "cuda":
        if info.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"local rank {info.local_rank} has no GPU ({torch.cuda.device_count()} visible)")
        torch.cuda.set_device(info.local_rank)
        device = torch.device("cuda", info.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=30))
    return device


def check_norm(norm: str, device: torch.device) -> None:
    if norm == "sync_batch" and device.type != "cuda":
        raise ConfigError("model.norm=sync_batch needs CUDA (SyncBatchNorm); on CPU use batch or instance")


def wrap(net: nn.Module, info: DistInfo, device: torch.device, sync_batch: bool) -> nn.Module:
    """DDP-wrap one network (with synchronised batch norm when asked)."""
    if not info.enabled:
        return net
    if sync_batch:
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids, output_device=ids[0] if ids else None)


def any_rank(info: DistInfo, *flags: bool) -> list[bool]:
    """Each flag, true if it is true on any rank (every rank must call this at the same point)."""
    if not info.enabled:
        return list(flags)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    values = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return [bool(v) for v in values.tolist()]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    """Leave the process group (every rank, after the last collective)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
