"""Guess whether a model's inputs are label maps, and their class colours (for the drawing page)."""

from __future__ import annotations

import numpy as np

from .sources import PairSource


def _flat_mask(image: np.ndarray, tolerance: int = 24) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood varies by less than ``tolerance`` in every channel."""
    padded = np.pad(image.astype(np.int16), ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = image.shape[:2]
    shifts = [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]
    spread = np.max(shifts, axis=0) - np.min(shifts, axis=0)
    return (spread < tolerance).all(axis=2)


def input_palette(source: PairSource, direction: str, samples: int = 50, max_colours: int = 24) -> list[list[int]] | None:
    """Class colours when the inputs look like label maps, else None.

    A label map is mostly flat (>= 60% of pixels in constant 3x3 neighbourhoods)
    and its flat pixels fall into a few colours (<= ``max_colours`` bins of 32
    levels per channel cover 90% of them, tolerant of JPEG noise). Each returned
    colour is the mean of its bin, most frequent first.
    """
    side = 1 if direction == "BtoA" else 0
    sums: dict[tuple[int, int, int], np.ndarray] = {}
    counts: dict[tuple[int, int, int], int] = {}
    total = all_pixels = 0
    for index in range(min(samples, len(source))):
        image = source.load(index)[side]
        if image.shape[2] != 3:
            return None
        flat = _flat_mask(image)
        all_pixels += flat.size
        pixels = image[flat].astype(np.int64)
        keys = pixels // 32
        codes = keys[:, 0] * 64 + keys[:, 1] * 8 + keys[:, 2]
        for code, count, colour_sum in _bin(codes, pixels):
            key = (code // 64, code // 8 % 8, code % 8)
            counts[key] = counts.get(key, 0) + count
            sums[key] = sums.get(key, 0) + colour_sum
        total += len(pixels)
    if not total or total < 0.6 * all_pixels:
        return None
    ranked = sorted(counts, key=counts.get, reverse=True)
    major = [k for k in ranked if counts[k] >= 0.005 * total][:max_colours]
    if not major or sum(counts[k] for k in major) < 0.9 * total:
        return None
    colours: list[np.ndarray] = []
    for key in major:  # JPEG noise splits a colour across neighbouring bins: keep the more frequent one
        colour = sums[key] / counts[key]
        if all(np.abs(colour - c).max() > 24 for c in colours):
            colours.append(colour)
    if len(colours) < 2:  # one flat colour is a background, not a set of classes
        return None
    return [[int(round(v)) for v in c] for c in colours]


def _bin(codes: np.ndarray, pixels: np.ndarray):  # noqa: ANN202 - yields (code, count, sum)
    order = np.argsort(codes, kind="stable")
    codes, pixels = codes[order], pixels[order]
    unique, starts, counts = np.unique(codes, return_index=True, return_counts=True)
    sums = np.add.reduceat(pixels, starts, axis=0)
    for code, count, total in zip(unique.tolist(), counts.tolist(), sums):
        yield code, count, total.astype(np.float64)
