"""The per-call inference context: how one forward pass normalises and drops out, kept out of the layers.

The pix2pix paper runs its generator at test time as in training: batch
statistics (here: each sample's own) and dropout on (here: one seeded mask).
Tiled inference additionally normalises every tile with statistics gathered
over the whole image, and draws dropout masks in whole-image coordinates.
All of that belongs to one call, not to the network: it travels in an
``InferenceContext`` that ``inference_mode`` sets for the calling thread (a
``contextvars.ContextVar``, so two threads running one network at once each see
their own), and the norm and dropout layers read it. Without a context the
layers behave exactly like torch's (training, or plain eval).
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Literal

import torch
from torch import nn

from ..errors import ConfigError

InferenceNorm = Literal["per_image", "eval", "frozen"]
# per_image was called "paper" before 0.2 (the word now means only --preset paper): still read, from a
# caller, a saved run or an exported file.
OLD_NORM_NAMES = {"paper": "per_image"}


def norm_mode(name: str) -> str:
    """Today's name of an inference mode (``paper`` -> ``per_image``); other names pass unchanged."""
    return OLD_NORM_NAMES.get(name, name)


def checked_norm(name: str, option: str) -> str:
    """A caller's inference mode under today's name, or a ConfigError naming ``option`` (``--norm``, ``inference.norm``)."""
    mode = norm_mode(name)
    if mode not in ("per_image", "eval"):
        raise ConfigError(f"{option}: '{name}' is not one of per_image, eval")
    return mode


class StatsCollector:
    """Sums of x and x^2 per channel over the owned region of each tile, at any layer's scale."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.total_sq: torch.Tensor | None = None
        self.count = 0

    def add(self, x: torch.Tensor, region: tuple[int, int, int, int, int]) -> None:
        top, bottom, left, right, tile_h = region  # in input pixels
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


class CollectedEnough(Exception):
    """Raised by the layer whose whole-image statistics a tiling pass is gathering: the rest of
    that pass is not needed (this halves the cost of the statistics passes)."""


@dataclass
class InferenceContext:
    """How the current call runs the generator.

    Args:
        mode: per_image (per-sample statistics, seeded dropout) or eval (running statistics, no dropout).
        seed: base seed of the dropout masks in per_image mode.
        layer_index: position of each norm/dropout layer in the network (by ``id``), for per-layer seeds
            and for naming the layer a tiling pass collects.
        canvas: (image height, image width, tile top, tile left, tile height) in input pixels while a
            tile of a larger image runs, so masks are drawn in whole-image coordinates.
        fixed_stats: layer index -> (mean, var) of the whole image, for tiles.
        collect: (layer index, collector, owned region of this tile) during a statistics pass.
        order: when a list, the per-sample normalisation layers append their index as they run
            (a tiling pass learns their execution order this way).
    """

    mode: str = "per_image"
    seed: int = 0
    layer_index: dict[int, int] = field(default_factory=dict)
    canvas: tuple[int, int, int, int, int] | None = None
    fixed_stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    collect: tuple[int, StatsCollector, tuple[int, int, int, int, int]] | None = None
    order: list[int] | None = None

    def index_of(self, module: nn.Module) -> int:
        return self.layer_index.get(id(module), -1)


_CURRENT: contextvars.ContextVar[InferenceContext | None] = contextvars.ContextVar("pix2pix_inference", default=None)


def current() -> InferenceContext | None:
    """The calling thread's inference context, or None (training, plain torch behaviour)."""
    return _CURRENT.get()


def indexed_layers(net: nn.Module, kinds: tuple[type, ...]) -> dict[int, int]:
    """id(module) -> its position among ``net``'s modules, for the modules of ``kinds``."""
    return {id(m): i for i, m in enumerate(net.modules()) if isinstance(m, kinds)}


@contextmanager
def using(context: InferenceContext) -> Iterator[InferenceContext]:
    """Make ``context`` the calling thread's for the duration (nests: the outer one comes back)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
