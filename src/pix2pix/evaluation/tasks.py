"""Scores and baselines of the photo tasks, printed side by side by ``pix2pix test``.

Always on the full RGB image unless a name says otherwise. Each task is scored
the way its literature does, against the baselines a user would otherwise use:

- colorization: L1 and PSNR in RGB, L1 of Lab's ab channels, colourfulness
  (Hasler & Suesstrunk, 2003) of outputs and targets; baseline: the grey input;
- inpainting: L1 / PSNR / SSIM inside the holes and over the whole image;
  baseline: scikit-image's biharmonic inpainting;
- superres: PSNR / SSIM in RGB and on the Y channel with a border of
  ``scale_factor`` pixels cropped; baselines: bicubic and Lanczos upscaling;
- denoise: PSNR / SSIM; baselines: the noisy input and scikit-image's
  non-local means with the known sigma (h = 0.8 sigma, patch 5, distance 6);
- edges: L1 / PSNR / SSIM; baseline: the mean training colour.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from PIL import Image

from ..config import DataConfig
from ..data.io import convert_channels
from ..data.photos import downscale, mask_of, noise_sigma, upscale
from ..errors import require
from ..metrics import SSIM_WINDOW, image_metrics, l1, psnr, ssim


def colourfulness(image: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003): sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2), 0-255 units."""
    rgb = convert_channels(image, 3).astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def ab_l1(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean |ab - ab'| in Lab units (scikit-image's rgb2lab, D65)."""
    color = require("skimage.color", "tasks", "colorization scores (Lab)")
    a = color.rgb2lab(convert_channels(pred, 3) / 255.0)[..., 1:]
    b = color.rgb2lab(convert_channels(target, 3) / 255.0)[..., 1:]
    return float(np.abs(a - b).mean())


def luma(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 Y in 16-235 (the super-resolution papers' Y channel), (H, W, 1) float."""
    rgb = convert_channels(image, 3).astype(np.float64)
    y = 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return y[..., None]


def _crop(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border else image


def task_scores(task: str, inp: np.ndarray, out: np.ndarray, target: np.ndarray, cfg: DataConfig) -> dict[str, float]:
    """One output's scores for ``task`` (``inp``: the model's input, for the hole mask)."""
    out, target = convert_channels(out, 3), convert_channels(target, 3)
    if task == "colorization":
        return {"L1": l1(out, target), "PSNR": psnr(out, target), "ab_L1": ab_l1(out, target),
                "colourfulness": colourfulness(out), "colourfulness_target": colourfulness(target)}
    if task == "inpainting":
        hole = mask_of(inp)
        scores = image_metrics(out, target)
        if hole.any():
            ys, xs = np.nonzero(hole)
            box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))  # SSIM needs a window: the holes' box
            scores.update(L1_hole=l1(out[hole][None], target[hole][None]), PSNR_hole=psnr(out[hole][None], target[hole][None]),
                          SSIM_hole=ssim(out[box], target[box]) if min(np.ptp(ys), np.ptp(xs)) + 1 >= SSIM_WINDOW else float("nan"))
        return {k: v for k, v in scores.items() if k != "MSE"}
    if task == "superres":
        border = cfg.scale_factor
        y_out, y_target = luma(out), luma(target)
        return {"PSNR": psnr(out, target), "SSIM": ssim(out, target),
                "PSNR_Y": _psnr_float(_crop(y_out, border), _crop(y_target, border)),
                "SSIM_Y": ssim(_crop(y_out, border), _crop(y_target, border), data_range=255.0)}
    if task == "denoise":
        return {"PSNR": psnr(out, target), "SSIM": ssim(out, target)}
    return {k: v for k, v in image_metrics(out, target).items() if k in ("L1", "PSNR", "SSIM")}


def _psnr_float(pred: np.ndarray, target: np.ndarray) -> float:
    error = float(((pred - target) ** 2).mean()) / 255.0**2
    return math.inf if error == 0 else 10.0 * math.log10(1.0 / error)


def baselines(task: str, cfg: DataConfig, mean_colour: np.ndarray | None = None) -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """name -> function(input, photo) giving the baseline's output for one held-out pair."""
    if task == "colorization":
        return {"grey input": lambda inp, photo: convert_channels(inp, 3)}
    if task == "inpainting":
        def biharmonic(inp: np.ndarray, photo: np.ndarray) -> np.ndarray:
            restoration = require("skimage.restoration", "tasks", "the inpainting baseline")
            filled = restoration.inpaint_biharmonic(inp[..., :3] / 255.0, mask_of(inp), channel_axis=-1)
            return np.clip(filled * 255.0 + 0.5, 0, 255).astype(np.uint8)

        return {"biharmonic": biharmonic}
    if task == "superres":
        factor = cfg.scale_factor
        return {"bicubic": lambda inp, photo: upscale(downscale(photo, factor), factor, Image.BICUBIC),
                "lanczos": lambda inp, photo: upscale(downscale(photo, factor), factor, Image.LANCZOS)}
    if task == "denoise":
        def nl_means(inp: np.ndarray, photo: np.ndarray) -> np.ndarray:
            restoration = require("skimage.restoration", "tasks", "the denoising baseline")
            sigma = noise_sigma(cfg, np.random.default_rng(0)) / 255.0  # the known sigma (a range: its low end)
            out = restoration.denoise_nl_means(inp / 255.0, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6,
                                               channel_axis=-1, fast_mode=True)
            return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)

        return {"noisy input": lambda inp, photo: inp, "non-local means": nl_means}
    colour = mean_colour if mean_colour is not None else np.full(3, 127, dtype=np.uint8)
    return {"mean training colour": lambda inp, photo: np.broadcast_to(colour.astype(np.uint8), photo.shape[:2] + (3,)).copy()}


def mean_training_colour(data: object, cfg: DataConfig, limit: int = 100) -> np.ndarray:
    """The mean RGB colour of (up to ``limit``) training photos: the edges task's baseline paints it."""
    from ..data.photos import open_photos

    photos = open_photos(data, "train", cfg, decode="none")
    count = min(limit, len(photos))
    if count == 0:
        return np.full(3, 127, dtype=np.uint8)
    means = [convert_channels(photos.load(i), 3).reshape(-1, 3).mean(0) for i in range(count)]
    return np.clip(np.mean(means, axis=0).round(), 0, 255).astype(np.uint8)


def summarise(task: str, rows: list[dict[str, float]]) -> dict[str, float]:
    """Means of per-image scores; colourfulness as the ratio of means, outputs / targets."""
    keys = sorted({k for r in rows for k in r})
    mean = {k: float(np.nanmean([r[k] for r in rows if k in r])) for k in keys}
    if task == "colorization" and mean.get("colourfulness_target"):
        mean["colourfulness_ratio"] = mean["colourfulness"] / mean["colourfulness_target"]
    return mean
