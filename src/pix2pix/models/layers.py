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

    With a ``canvas`` (full height, full width, tile top, tile left, tile height) in
    input pixels, the mask is drawn for the whole image and cropped to the tile, so a
    tiled image gets exactly the masks the untiled one would.
    """

    seed: int | None = None
    canvas: tuple[int, int, int, int, int] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.seed is not None and self.p > 0):
            return super().forward(x)
        generator = torch.Generator(device=x.device).manual_seed(self.seed)
        if self.canvas is None:
            shape, top, left = tuple(x.shape[1:]), 0, 0
        else:
            full_h, full_w, tile_top, tile_left, tile_h = self.canvas
            scale = tile_h // x.shape[-2]
            shape = (x.shape[1], full_h // scale, full_w // scale)
            top, left = tile_top // scale, tile_left // scale
        keep = torch.empty((1, *shape), device=x.device, dtype=x.dtype).bernoulli_(1 - self.p, generator=generator)
        keep = keep[..., top : top + x.shape[-2], left : left + x.shape[-1]]
        return x * keep / (1 - self.p)


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
    training = {m: m.training for m in net.modules()}
    net.eval()
    touched: list[nn.Module] = []
    if mode == "paper":
        for index, module in enumerate(net.modules()):
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
        for module, was_training in training.items():
            module.training = was_training
