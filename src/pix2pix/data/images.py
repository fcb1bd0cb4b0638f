"""Image grids for samples and reports (input | output | target rows)."""

from __future__ import annotations

import numpy as np

from .io import convert_channels
from .transforms import resize


def grid(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile (H, W, C) uint8 images into one RGB image; every cell takes the first image's size."""
    if not rows or not rows[0]:
        raise ValueError("grid needs at least one image")
    height, width = rows[0][0].shape[:2]
    columns = max(len(r) for r in rows)
    out = np.full((len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            cell = resize(convert_channels(image, 3), height, width)
            top, left = r * (height + gap), c * (width + gap)
            out[top : top + height, left : left + width] = cell
    return out
