"""``demo:shapes``: a procedural paired dataset that needs no files.

A = a label map (flat class colours: background, disc, box, triangle), B = a
rendering of it: a sky-like gradient, discs shaded as lit spheres, boxes with
stripes, triangles with a vertical gradient, and soft drop shadows. B is a
deterministic function of A, so a model can learn it, and the textures make
progress visible within minutes on a CPU. Every pair is generated from
(split, index) alone, so the data is identical on every machine and run.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

DEMO_PREFIX = "demo:"
DEMO_NAMES = ("shapes",)
SPLIT_SIZES = {"train": 400, "val": 40, "test": 40}
_SPLIT_IDS = {"train": 0, "val": 1, "test": 2}

# Label colours per class: background, disc, box, triangle.
PALETTE = np.array([[30, 30, 90], [230, 60, 50], [60, 200, 80], [250, 210, 40]], dtype=np.uint8)
_BOX_STRIPE = np.array([20, 110, 50], dtype=np.float32)


def parse_demo_name(data: str) -> str | None:
    """'demo:shapes' -> 'shapes'; None when ``data`` is not a demo name."""
    if not data.startswith(DEMO_PREFIX):
        return None
    return data[len(DEMO_PREFIX) :]


def _shapes(rng: np.random.Generator, size: int) -> list[tuple[int, tuple[float, ...]]]:
    """Random shapes as (class, geometry), geometry in pixels."""
    shapes = []
    for _ in range(int(rng.integers(2, 6))):
        cls = int(rng.integers(1, 4))
        cx, cy = rng.uniform(0.15, 0.85, size=2) * size
        r = rng.uniform(0.10, 0.22) * size
        if cls == 3:
            angle = rng.uniform(0, 2 * np.pi)
            shapes.append((cls, (cx, cy, r, angle)))
        elif cls == 2:
            aspect = rng.uniform(0.6, 1.6)
            shapes.append((cls, (cx, cy, r * aspect, r / aspect)))
        else:
            shapes.append((cls, (cx, cy, r)))
    return shapes


def _mask(size: int, cls: int, geom: tuple[float, ...]) -> np.ndarray:
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    if cls == 1:
        cx, cy, r = geom
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif cls == 2:
        cx, cy, hw, hh = geom
        draw.rectangle([cx - hw, cy - hh, cx + hw, cy + hh], fill=255)
    else:
        cx, cy, r, angle = geom
        points = [(cx + r * np.cos(angle + k * 2 * np.pi / 3), cy + r * np.sin(angle + k * 2 * np.pi / 3)) for k in range(3)]
        draw.polygon(points, fill=255)
    return np.asarray(img) > 127


def make_pair(split: str, index: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """One (label map, rendering) pair as (H, W, 3) uint8 arrays."""
    rng = np.random.default_rng([7919, _SPLIT_IDS.get(split, 3), index])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    labels = np.zeros((size, size), dtype=np.int64)
    # Background: vertical sky gradient.
    t = (yy / max(size - 1, 1))[..., None]
    photo = (1 - t) * np.array([140, 180, 235], np.float32) + t * np.array([235, 225, 200], np.float32)
    shadow_offset = max(1, size // 32)
    for cls, geom in _shapes(rng, size):
        mask = _mask(size, cls, geom)
        shadow = np.zeros_like(mask)
        shadow[shadow_offset:, shadow_offset:] = mask[:-shadow_offset, :-shadow_offset]
        shadow &= ~mask
        photo[shadow] *= 0.55
        labels[mask] = cls
        photo[mask] = _texture(cls, geom, xx, yy, size)[mask]
    label_rgb = PALETTE[labels]
    return label_rgb, np.clip(np.round(photo), 0, 255).astype(np.uint8)


def _texture(cls: int, geom: tuple[float, ...], xx: np.ndarray, yy: np.ndarray, size: int) -> np.ndarray:
    """The rendering of one shape class over the whole canvas (masked by the caller)."""
    if cls == 1:  # disc -> sphere lit from the top left
        cx, cy, r = geom
        dx, dy = (xx - cx) / r, (yy - cy) / r
        nz = np.sqrt(np.clip(1 - dx * dx - dy * dy, 0, 1))
        light = np.clip(-0.5 * dx - 0.5 * dy + 0.7 * nz, 0, 1)
        base = np.array([200, 40, 35], np.float32)
        return (0.25 + 0.85 * light)[..., None] * base + (light**12)[..., None] * 180
    if cls == 2:  # box -> diagonal stripes anchored at the box corner
        cx, cy, hw, hh = geom
        period = max(4.0, size / 16)
        phase = ((xx - (cx - hw)) + (yy - (cy - hh))) / period
        stripe = (np.floor(phase) % 2)[..., None]
        return stripe * np.array([90, 220, 110], np.float32) + (1 - stripe) * _BOX_STRIPE
    cx, cy, r, _ = geom  # triangle -> vertical gradient, dark at the bottom
    t = np.clip((yy - (cy - r)) / (2 * r), 0, 1)[..., None]
    return (1 - t) * np.array([255, 235, 120], np.float32) + t * np.array([170, 90, 10], np.float32)


def split_size(split: str) -> int:
    return SPLIT_SIZES[split]
