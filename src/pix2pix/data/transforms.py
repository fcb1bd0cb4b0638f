"""Resize / crop / flip, applied identically to A and B.

Training uses random jitter (one draw per pair from a seeded generator, so the
same step always sees the same crop). Test, translate and validation use
``eval_size``: the scale the model was trained at, no crop, no flip; the network
wrapper pads to its size multiple. One rule everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..config import DataConfig


def resize(array: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
    """Bicubic resize of (H, W, C) uint8, as the paper's code (PIL bicubic); ``nearest`` for label maps,
    whose pixels must keep their class colours."""
    if array.shape[0] == height and array.shape[1] == width:
        return array
    channels = array.shape[2]
    img = Image.fromarray(array[:, :, 0] if channels == 1 else array)
    out = np.asarray(img.resize((width, height), Image.NEAREST if nearest else Image.BICUBIC), dtype=np.uint8)
    return out[:, :, None] if channels == 1 else out


def eval_size(height: int, width: int, cfg: DataConfig) -> tuple[int, int]:
    """Size an image is resized to at test time so it matches what the network saw in training.

    resize_and_crop: the crop size (the network only ever saw crop_size inputs; a
    U-Net built for it then has its 1x1 bottleneck, and 286 px would be padded to
    512 for unet_256: four times the work). scale_width: width load_size, as in
    training. crop / none: unchanged.
    """
    if cfg.preprocess == "resize_and_crop":
        return cfg.crop_size, cfg.crop_size
    if cfg.preprocess == "scale_width":
        return max(1, round(height * cfg.load_size / width)), cfg.load_size
    return height, width


@dataclass(frozen=True)
class PairTransform:
    """Training-time jitter for a pair of (H, W, C) uint8 arrays."""

    preprocess: str
    load_size: int
    crop_size: int
    flip: bool

    @classmethod
    def from_config(cls, cfg: DataConfig) -> "PairTransform":
        return cls(cfg.preprocess, cfg.load_size, cfg.crop_size, cfg.flip)

    def __call__(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        out_a, out_b = self.apply([a, b], rng)
        return out_a, out_b

    def apply(self, images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """One random resize/crop/flip, applied identically to every image (all of the first's size)."""
        height, width = images[0].shape[:2]
        crop = self.crop_size
        if self.preprocess == "resize_and_crop":
            height = width = self.load_size
        elif self.preprocess == "scale_width":
            height, width = max(crop, round(height * self.load_size / width)), self.load_size
        elif self.preprocess == "crop" and min(height, width) < crop:
            scale = crop / min(height, width)  # too small to crop: enlarge just enough
            height, width = max(crop, round(height * scale)), max(crop, round(width * scale))
        images = [resize(image, height, width) for image in images]
        if self.preprocess != "none":
            top = int(rng.integers(0, height - crop + 1))
            left = int(rng.integers(0, width - crop + 1))
            images = [image[top : top + crop, left : left + crop] for image in images]
        if self.flip and rng.random() < 0.5:
            images = [image[:, ::-1] for image in images]
        return [np.ascontiguousarray(image) for image in images]


def eval_resize(image: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """One image resized to its ``eval_size``: what validation, test and translate feed the network."""
    return resize(image, *eval_size(image.shape[0], image.shape[1], cfg))


def eval_transform(a: np.ndarray, b: np.ndarray, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic test-time version: resize both to ``eval_size`` of A."""
    height, width = eval_size(a.shape[0], a.shape[1], cfg)
    return resize(a, height, width), resize(b, height, width)
