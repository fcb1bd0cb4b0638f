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


class BatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d (same parameters and buffers) with a per-sample statistics switch."""

    per_sample = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_sample:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        return super().forward(x)


class Dropout(nn.Dropout):
    """nn.Dropout that, given a seed, uses one reproducible mask for the whole batch."""

    seed: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.seed is not None and self.p > 0):
            return super().forward(x)
        generator = torch.Generator(device=x.device).manual_seed(self.seed)
        keep = torch.empty((1, *x.shape[1:]), device=x.device, dtype=x.dtype).bernoulli_(1 - self.p, generator=generator)
        return x * keep / (1 - self.p)


def norm_layer(kind: str) -> Callable[[int], nn.Module]:
    """Factory for a 2-D norm layer over ``channels`` (instance norm as in the papers: no affine)."""
    if kind in ("batch", "sync_batch"):
        return lambda channels: BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "instance":
        return lambda channels: nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return lambda channels: nn.Identity()
    raise ConfigError(f"model.norm: unknown norm '{kind}' (valid: {', '.join(NORM_KINDS)})")


def conv_bias(kind: str) -> bool:
    """Convs before a batch norm need no bias (the norm's shift replaces it)."""
    return kind not in ("batch", "sync_batch")


InferenceNorm = Literal["paper", "eval"]


@contextmanager
def inference_mode(net: nn.Module, mode: InferenceNorm, seed: int = 0) -> Iterator[nn.Module]:
    """Run ``net`` as ``paper`` (per-sample statistics, seeded dropout) or ``eval``; restore after."""
    if mode not in ("paper", "eval"):
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
