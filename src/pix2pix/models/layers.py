"""Norm and dropout layers that know the paper's inference mode, from the per-call context.

The pix2pix paper (and its code's test script) runs the generator at test time
exactly as in training: batch statistics and dropout on. With a batch of more
than one image that would let images change each other's outputs, so in
``per_image`` mode our batch norm normalises each sample by its own statistics
(what training at batch size 1 does) and dropout draws one seeded mask shared by
every sample: an image's output depends on nothing but the image and the seed.

The mode is not layer state: ``inference_mode`` puts it in the calling thread's
``InferenceContext`` (``inference_context``), so one network can serve several
threads at once, each in its own mode. Without a context the layers are torch's.
``freeze_inference_mode`` returns a copy with one mode fixed at construction,
for tracing, export and torch.compile, where nothing is looked up per call.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .inference_context import (CollectedEnough, InferenceContext, InferenceNorm, StatsCollector, current, indexed_layers,
                                norm_mode, using)

NormKind = Literal["batch", "instance", "none", "sync_batch"]
NORM_KINDS = ("batch", "instance", "none", "sync_batch")


@dataclass(frozen=True)
class FixedMode:
    """A mode fixed at construction (``freeze_inference_mode``): per_image or eval, this layer's dropout
    seed, and whether per_image-mode dropout draws its seeded mask (or passes its expectation, for exports)."""

    mode: str
    seed: int = 0
    dropout: bool = True


class _ContextLayer:
    fixed: FixedMode | None = None  # set only on the copies freeze_inference_mode makes

    def _mode(self) -> tuple[str | None, InferenceContext | None]:
        if self.fixed is not None:
            return self.fixed.mode, None
        context = current()
        return (context.mode if context is not None else None), context


def _sample_norm(layer: nn.Module, context: InferenceContext | None, x: torch.Tensor, weight: torch.Tensor | None,
                 bias: torch.Tensor | None, eps: float) -> torch.Tensor:
    """Each sample by its own statistics, or (tiles) by the whole image's, or (a statistics pass) collect them."""
    if context is not None:
        index = context.index_of(layer)
        if context.order is not None and index not in context.order:
            context.order.append(index)
        if context.collect is not None and context.collect[0] == index:
            context.collect[1].add(x, context.collect[2])
            raise CollectedEnough
        if index in context.fixed_stats:
            mean, var = context.fixed_stats[index]
            y = (x - mean) / torch.sqrt(var + eps)
            if weight is not None:
                y = y * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)
            return y
    return F.instance_norm(x, weight=weight, bias=bias, eps=eps)


class BatchNorm2d(nn.BatchNorm2d, _ContextLayer):
    """nn.BatchNorm2d (same parameters and buffers). In an inference context: per-sample statistics
    (per_image) or the running ones (eval), whatever the module's training flag."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode, context = self._mode()
        if mode is None:
            return super().forward(x)
        if mode == "eval":
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return _sample_norm(self, context, x, self.weight, self.bias, self.eps)


class InstanceNorm2d(nn.InstanceNorm2d, _ContextLayer):
    """nn.InstanceNorm2d (no parameters, as in the papers); tiles take the whole image's statistics."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode, context = self._mode()
        if context is None or (context.collect is None and not context.fixed_stats and context.order is None):
            return super().forward(x)
        return _sample_norm(self, context, x, self.weight, self.bias, self.eps)


class Dropout(nn.Dropout, _ContextLayer):
    """nn.Dropout; in per_image mode one reproducible mask for the whole batch, none in eval mode.

    The seeded mask comes from a counter-based hash of (seed, channel, row,
    column): no generator state, so it is the same on every device, traceable by
    torch.compile, and identical for a tile and for the same pixels of the whole
    image (the context's canvas gives the tile's place in the image).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode, context = self._mode()
        if mode is None:
            return super().forward(x)
        if mode != "per_image" or self.p == 0 or (self.fixed is not None and not self.fixed.dropout):
            return x
        if context is None:
            seed, canvas = self.fixed.seed, None  # type: ignore[union-attr]
        else:
            seed, canvas = context.seed * 1000 + context.index_of(self), context.canvas
        keep = seeded_keep_mask(tuple(x.shape[1:]), self.p, seed, canvas, x.device)
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


CONTEXT_LAYERS = (BatchNorm2d, InstanceNorm2d, Dropout)
_FOREIGN = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.Dropout)


def check_layers(net: nn.Module) -> None:
    """Refuse a generator whose norm or dropout layers are torch's own: in per_image mode they would
    silently behave as in eval mode (or as in training, drawing random masks)."""
    for name, module in net.named_modules():
        if isinstance(module, _FOREIGN) and not isinstance(module, CONTEXT_LAYERS) and not isinstance(module, nn.SyncBatchNorm):
            raise ConfigError(
                f"{name or 'the generator'} is a {type(module).__module__}.{type(module).__name__}: build generators "
                "from pix2pix.models.layers (BatchNorm2d, InstanceNorm2d, Dropout) so that the inference modes apply"
            )


def inference_context(net: nn.Module, mode: str, seed: int = 0) -> InferenceContext:
    """A fresh context for one call of ``net`` in ``mode``."""
    return InferenceContext(mode=mode, seed=seed, layer_index=indexed_layers(net, CONTEXT_LAYERS))


@contextmanager
def inference_mode(net: nn.Module, mode: InferenceNorm, seed: int = 0) -> Iterator[InferenceContext | None]:
    """Run ``net`` as ``per_image`` (per-sample statistics, seeded dropout) or ``eval`` in this thread, without
    gradients; nothing about ``net`` changes, so other threads may run it at the same time.

    ``frozen`` only turns gradients off: for exported models whose normalisation is baked in.
    """
    mode = norm_mode(mode)
    if mode not in ("per_image", "eval", "frozen"):
        raise ConfigError(f"inference.norm: '{mode}' is not one of per_image, eval")
    if mode == "frozen":
        with torch.no_grad():
            yield None
        return
    check_layers(net)
    with torch.no_grad(), using(inference_context(net, mode, seed)) as context:
        yield context


def freeze_inference_mode(net: nn.Module, mode: str, seed: int = 0, dropout: bool = True) -> nn.Module:
    """A copy of ``net`` that always runs in ``mode`` (its layers' mode fixed at construction): for
    tracing, export and torch.compile, which must see one fixed graph. ``dropout=False`` passes
    dropout's expectation in per_image mode (exports, whose input sizes vary)."""
    check_layers(net)
    frozen = copy.deepcopy(net).eval().requires_grad_(False)
    index = indexed_layers(frozen, CONTEXT_LAYERS)
    for module in frozen.modules():
        if isinstance(module, (BatchNorm2d, Dropout)):
            module.fixed = FixedMode(norm_mode(mode), seed * 1000 + index[id(module)], dropout)
    return frozen


__all__ = ["BatchNorm2d", "CollectedEnough", "Dropout", "FixedMode", "InferenceContext", "InstanceNorm2d",
           "StatsCollector", "check_layers", "freeze_inference_mode", "inference_mode", "norm_layer", "seeded_keep_mask"]
