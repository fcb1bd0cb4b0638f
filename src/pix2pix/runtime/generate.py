"""Running a generator on uint8 images: the inference mode, precision, padding, tiling and the compiled runner
applied to one call. The one code path under validation, test, translate and serving."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..data.tensors import to_model_range, to_uint8
from ..models import inference_mode, run_padded, size_multiple
from .precision import Autocast
from .tiling import run_tiled


def module_device(net: nn.Module) -> torch.device:
    for tensor in [*net.parameters(), *net.buffers()][:1]:
        return tensor.device
    return torch.device("cpu")


def generate(
    net: nn.Module,
    images: torch.Tensor,
    *,
    norm: str = "per_image",
    seed: int = 0,
    precision: Autocast | None = None,
    tile_size: int = 0,
    runner: nn.Module | None = None,
    latent: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 (B, C, H, W) in -> uint8 (B, C_out, H, W) out, any H and W (padded internally).

    Images whose larger side exceeds ``tile_size`` (> 0) go through overlapping tiles.
    ``runner`` (e.g. a torch.compile'd ``net``) runs the untiled forward passes. ``latent``: the code z,
    (1, nz) for every image or (B, nz), for a generator that takes one (runs ``net`` itself: the runner's
    compiled copy takes the input alone).
    """
    device = module_device(net)
    x = to_model_range(images.to(device, non_blocking=True))
    if latent is not None:
        latent = latent.to(device=device, dtype=torch.float32).expand(x.shape[0], -1)
        runner = None
    if precision is not None and precision.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = precision.autocast() if precision else torch.autocast(device.type, enabled=False)
    multiple = size_multiple(net)
    with inference_mode(net, norm, seed), autocast:
        if tile_size and max(x.shape[-2:]) > tile_size:
            y = torch.cat([run_tiled(net, x[i : i + 1], multiple, tile_size, None if latent is None else latent[i : i + 1])
                           for i in range(x.shape[0])])
        else:
            y = run_padded(net if runner is None else runner, x, multiple, latent)
    return to_uint8(y).cpu()


def generate_arrays(
    net: nn.Module,
    arrays: Sequence[np.ndarray],
    *,
    norm: str = "per_image",
    seed: int = 0,
    precision: Autocast | None = None,
    batch_size: int = 8,
    tile_size: int = 0,
    runner: nn.Module | None = None,
    latent: torch.Tensor | None = None,
) -> list[np.ndarray]:
    """(H, W, C) uint8 arrays in, generator outputs out; arrays of one shape share a batch
    (larger than ``tile_size``: one at a time, through tiles). ``latent``: one code (1, nz) for every image."""
    outputs: list[np.ndarray | None] = [None] * len(arrays)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, array in enumerate(arrays):
        by_shape.setdefault(array.shape, []).append(index)
    for indices in by_shape.values():
        step = 1 if tile_size and max(arrays[indices[0]].shape[:2]) > tile_size else batch_size
        for start in range(0, len(indices), step):
            chunk = indices[start : start + step]
            batch = torch.from_numpy(np.stack([arrays[i] for i in chunk])).permute(0, 3, 1, 2)
            result = generate(net, batch, norm=norm, seed=seed, precision=precision, tile_size=tile_size, runner=runner,
                              latent=latent)
            for i, out in zip(chunk, result.permute(0, 2, 3, 1).numpy()):
                outputs[i] = np.ascontiguousarray(out)
    return outputs  # type: ignore[return-value]


