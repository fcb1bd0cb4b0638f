"""Very large images: overlapping tiles, blended smoothly, with whole-image statistics.

Memory stays bounded by the tile size. Two things keep tiles from showing:

1. Normalisation. In ``per_image`` mode (and with instance norm) each image is
   normalised by its own statistics, which a tile alone does not know. Before
   translating, one pass per normalisation layer (in execution order) runs the
   tiles up to that layer and sums its input over the region each tile owns; the
   layer then normalises every tile with the whole image's mean and variance.
2. Borders. Tiles overlap by at least a quarter of their size and are blended
   with linear ramps across each overlap, so the conv-padding effects near tile
   edges fade out. Seeded dropout masks are drawn for the whole image and cropped
   per tile, so they agree with the untiled run.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from ..models.inference_context import CollectedEnough, InferenceContext, StatsCollector, current, using
from ..models.padding import pad_to_multiple


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, size) with tiles of ``tile``, overlapping by at least ``overlap``."""
    if tile >= size:
        return [0]
    stride = tile - overlap
    count = math.ceil((size - tile) / stride) + 1
    return sorted({min(i * stride, size - tile) for i in range(count)})


def owned_ranges(starts: list[int], tile: int, size: int, multiple: int) -> list[tuple[int, int]]:
    """Split [0, size) among tiles: each owns up to the middle of its overlaps (on ``multiple`` boundaries)."""
    bounds = [0]
    for a, b in zip(starts, starts[1:]):
        half = (a + tile - b) / 2
        bounds.append(b + int(round(half / multiple)) * multiple)
    bounds.append(size)
    return list(zip(bounds, bounds[1:]))


def _ramp(length: int, start: int, tile: int, prev_end: int | None, next_start: int | None) -> torch.Tensor:
    """Blend weights along one axis of a tile: rise across the overlap with the previous tile, fall across the next."""
    w = torch.ones(length, dtype=torch.float64)
    positions = torch.arange(length, dtype=torch.float64)
    if prev_end is not None:
        span = prev_end - start
        w = torch.minimum(w, (positions + 0.5) / span)
    if next_start is not None:
        span = start + tile - next_start
        w = torch.minimum(w, (tile - positions - 0.5) / span)
    return w.clamp_min(1e-6)


def _call(net: nn.Module, x: torch.Tensor, latent: torch.Tensor | None) -> torch.Tensor:
    return net(x) if latent is None else net(x, latent)


def _stats_layers_in_order(net: nn.Module, context: InferenceContext, channels: int, multiple: int,
                           device: torch.device, latent: torch.Tensor | None) -> list[int]:
    """Indices of the normalisation layers that use per-sample statistics, in the order a forward pass
    calls them (recorded in a context of this call: nothing is attached to the network)."""
    order: list[int] = []
    with using(replace(context, order=order)):
        _call(net, torch.zeros(1, channels, multiple, multiple, device=device), latent)
    return order


def run_tiled(net: nn.Module, x: torch.Tensor, multiple: int, tile: int, latent: torch.Tensor | None = None) -> torch.Tensor:
    """net(x) for one (1, C, H, W) image, computed tile by tile (``latent``: its code, the same for every tile).

    Call inside ``inference_mode`` (its context says the mode and the dropout seed). ``tile`` is
    rounded down to ``multiple``; tiles overlap by a quarter of their size or more.
    """
    context = current()
    if context is None:
        raise RuntimeError("run_tiled needs an inference context (call it inside models.inference_mode)")
    height, width = x.shape[-2:]
    xp = pad_to_multiple(x, multiple)
    full_h, full_w = xp.shape[-2:]
    tile = max(2 * multiple, tile // multiple * multiple)  # room for an overlap of at least one multiple
    tile_h, tile_w = min(tile, full_h), min(tile, full_w)  # an axis that fits needs no tiling
    overlaps = [max(multiple, math.ceil(t / 4 / multiple) * multiple) for t in (tile_h, tile_w)]
    rows = tile_starts(full_h, tile_h, overlaps[0])
    cols = tile_starts(full_w, tile_w, overlaps[1])
    own_rows = owned_ranges(rows, tile_h, full_h, multiple)
    own_cols = owned_ranges(cols, tile_w, full_w, multiple)
    tiles = [(r, c, own_rows[i], own_cols[j]) for i, r in enumerate(rows) for j, c in enumerate(cols)]
    layers = _stats_layers_in_order(net, context, x.shape[1], multiple, x.device, latent)
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def run(top: int, left: int, collect: tuple | None = None) -> torch.Tensor:
        tile_context = replace(context, canvas=(full_h, full_w, top, left, tile_h), fixed_stats=stats, collect=collect)
        with using(tile_context):
            return _call(net, xp[..., top : top + tile_h, left : left + tile_w], latent)

    for index in layers:  # (1) whole-image statistics, one layer at a time
        collector = StatsCollector()
        for top, left, (r0, r1), (c0, c1) in tiles:
            try:
                run(top, left, (index, collector, (r0 - top, r1 - top, c0 - left, c1 - left, tile_h)))
            except CollectedEnough:
                pass
        stats[index] = collector.stats()
    out = None  # (2) translate and blend
    weight = torch.zeros(1, 1, full_h, full_w, dtype=torch.float64, device=x.device)
    for top, left, _, _ in tiles:
        i, j = rows.index(top), cols.index(left)
        wy = _ramp(tile_h, top, tile_h, rows[i - 1] + tile_h if i else None, rows[i + 1] if i + 1 < len(rows) else None)
        wx = _ramp(tile_w, left, tile_w, cols[j - 1] + tile_w if j else None, cols[j + 1] if j + 1 < len(cols) else None)
        w = (wy[:, None] * wx[None, :]).to(x.device)
        y = run(top, left).double()
        if out is None:
            out = torch.zeros(1, y.shape[1], full_h, full_w, dtype=torch.float64, device=x.device)
        out[..., top : top + tile_h, left : left + tile_w] += y * w
        weight[..., top : top + tile_h, left : left + tile_w] += w
    return (out / weight)[..., :height, :width].to(x.dtype)
