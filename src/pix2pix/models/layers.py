"""Norm and dropout layers that know the paper's inference mode, and the mode switch.

The pix2pix paper (and its code's test script) runs the generator at test time
exactly as in training: batch statistics and dropout on. With a batch of more
than one image that would let images change each other's outputs, so in
``paper`` mode our batch norm normalises each sample by its own statistics
(what training at batch size 1 does) and dropout draws one seeded mask shared by
every sample: an image's output depends on nothing but the image and the seed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

NormKind = Literal["batch", "instance", "none", "sync_batch"]
NORM_KINDS = ("batch", "instance", "none", "sync_batch")


class StopForward(Exception):
    """Raised by a norm layer that has collected the statistics a tiling pass wanted."""


class TileStats:
    """Per-sample normalisation that tiled inference can steer: collect the statistics of a
    whole image tile by tile, then normalise every tile with them (see ``inference_tiles``)."""

    fixed_stats: tuple[torch.Tensor, torch.Tensor] | None = None  # per-channel (mean, var), shape (1, C, 1, 1)
    collector: "StatsCollector | None" = None

    def sample_norm(self, x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float) -> torch.Tensor:
        if self.collector is not None:
            self.collector.add(x)
            raise StopForward
        if self.fixed_stats is None:
            return F.instance_norm(x, weight=weight, bias=bias, eps=eps)
        mean, var = self.fixed_stats
        y = (x - mean) / torch.sqrt(var + eps)
        if weight is not None:
            y = y * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)
        return y


class BatchNorm2d(nn.BatchNorm2d, TileStats):
    """nn.BatchNorm2d (same parameters and buffers) with a per-sample statistics switch."""

    per_sample = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_sample:
            return self.sample_norm(x, self.weight, self.bias, self.eps)
        return super().forward(x)


class InstanceNorm2d(nn.InstanceNorm2d, TileStats):
    """nn.InstanceNorm2d (no parameters, as in the papers) that tiled inference can steer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.collector is None and self.fixed_stats is None:
            return super().forward(x)
        return self.sample_norm(x, self.weight, self.bias, self.eps)


class StatsCollector:
    """Sums of x and x^2 per channel over the owned region of each tile, at any layer's scale."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.total_sq: torch.Tensor | None = None
        self.count = 0
        self.region: tuple[int, int, int, int, int] = (0, 0, 0, 0, 1)  # (top, bottom, left, right, tile height) in input pixels

    def add(self, x: torch.Tensor) -> None:
        top, bottom, left, right, tile_h = self.region
        scale = tile_h // x.shape[-2]
        part = x[..., top // scale : bottom // scale, left // scale : right // scale].double()
        s, sq = part.sum(dim=(0, 2, 3)), (part * part).sum(dim=(0, 2, 3))
        self.total = s if self.total is None else self.total + s
        self.total_sq = sq if self.total_sq is None else self.total_sq + sq
        self.count += part.shape[0] * part.shape[2] * part.shape[3]

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.total / self.count
        var = (self.total_sq / self.count - mean * mean).clamp_min(0)
        return mean.float().view(1, -1, 1, 1), var.float().view(1, -1, 1, 1)


class Dropout(nn.Dropout):
    """nn.Dropout that, given a seed, uses one reproducible mask for the whole batch.

    The seeded mask comes from a counter-based hash of (seed, channel, row,
    column): no generator state, so it is the same on every device, traceable by
    torch.compile, and identical for a tile and for the same pixels of the whole
    image. With a ``canvas`` (full height, full width, tile top, tile left, tile
    height, all in input pixels) positions are taken in the whole image.
    """

    seed: int | None = None
    canvas: tuple[int, int, int, int, int] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.seed is not None and self.p > 0):
            return super().forward(x)
        keep = seeded_keep_mask(tuple(x.shape[1:]), self.p, self.seed, self.canvas, x.device)
        return x * keep.to(x.dtype) / (1 - self.p)


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (C. Wellons' 0x21f0aaad / 0x735a2d97) on int64 tensors holding 32-bit
    values; both multipliers are below 2^31, so no product overflows int64."""
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & 0xFFFFFFFF
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & 0xFFFFFFFF
    return x ^ (x >> 15)


def seeded_keep_mask(
    shape: tuple[int, int, int],
    p: float,
    seed: int,
    canvas: tuple[int, int, int, int, int] | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """(1, C, H, W) float mask, 1 with probability 1 - p, a pure function of (seed, position)."""
    channels, height, width = shape
    if canvas is None:
        full_h, full_w, top, left = height, width, 0, 0
    else:
        image_h, image_w, tile_top, tile_left, tile_h = canvas
        scale = tile_h // height
        full_h, full_w, top, left = image_h // scale, image_w // scale, tile_top // scale, tile_left // scale
    c = torch.arange(channels, device=device, dtype=torch.int64).view(-1, 1, 1)
    y = torch.arange(height, device=device, dtype=torch.int64).view(1, -1, 1) + top
    x = torch.arange(width, device=device, dtype=torch.int64).view(1, 1, -1) + left
    index = (c * full_h + y) * full_w + x
    h = _mix32((index & 0xFFFFFFFF) ^ (seed * 0x9E3779B1 & 0xFFFFFFFF))
    h = _mix32(h ^ ((index >> 32) + 0x632BE5AB))
    uniform = h.to(torch.float32) * (1.0 / 4294967296.0)
    return (uniform >= p).to(torch.float32).unsqueeze(0)


def norm_layer(kind: str) -> Callable[[int], nn.Module]:
    """Factory for a 2-D norm layer over ``channels`` (instance norm as in the papers: no affine)."""
    if kind in ("batch", "sync_batch"):
        return lambda channels: BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "instance":
        return lambda channels: InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return lambda channels: nn.Identity()
    raise ConfigError(f"model.norm: unknown norm '{kind}' (valid: {', '.join(NORM_KINDS)})")


def conv_bias(kind: str) -> bool:
    """Convs before a batch norm need no bias (the norm's shift replaces it)."""
    return kind not in ("batch", "sync_batch")


InferenceNorm = Literal["paper", "eval", "frozen"]


@contextmanager
def inference_mode(net: nn.Module, mode: InferenceNorm, seed: int = 0) -> Iterator[nn.Module]:
    """Run ``net`` as ``paper`` (per-sample statistics, seeded dropout) or ``eval``; restore after.

    ``frozen`` only switches to eval mode and off gradients: for exported models
    whose normalisation is baked in.
    """
    if mode not in ("paper", "eval", "frozen"):
        raise ConfigError(f"inference.norm: '{mode}' is not one of paper, eval")
    modules = list(net.modules())  # one walk of the tree: per image it cost ~0.8 ms as four
    training = [m.training for m in modules]
    for module in modules:
        module.training = False
    touched: list[nn.Module] = []
    if mode == "paper":
        for index, module in enumerate(modules):
            if isinstance(module, BatchNorm2d):
                module.per_sample = True
                touched.append(module)
            elif isinstance(module, Dropout):
                module.train()
                module.seed = seed * 1000 + index
                touched.append(module)
    try:
        with torch.no_grad():
            yield net
    finally:
        for module in touched:
            if isinstance(module, BatchNorm2d):
                module.per_sample = False
            else:
                module.seed = None
        for module, was_training in zip(modules, training):
            module.training = was_training
