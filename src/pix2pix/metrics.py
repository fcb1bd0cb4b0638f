"""Image-quality metrics on uint8 images: L1, MSE, PSNR, SSIM.

All take (H, W, C) uint8 arrays of equal shape. L1 and MSE are on the [0, 1]
scale; PSNR and SSIM use the 8-bit data range (255). SSIM is the standard
definition (Wang et al., 2004): 11x11 Gaussian window with sigma 1.5, K1 0.01,
K2 0.03, statistics over the window (no sample-covariance correction), mean over
the valid region, then over channels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import ImageError

SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if pred.shape != target.shape:
        raise ImageError("<metrics>", f"prediction {pred.shape} and target {target.shape} differ in shape")
    return pred.astype(np.float64), target.astype(np.float64)


def l1(pred: np.ndarray, target: np.ndarray) -> float:
    p, t = _pair(pred, target)
    return float(np.abs(p - t).mean() / 255.0)


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    p, t = _pair(pred, target)
    return float(((p - t) ** 2).mean() / 255.0**2)


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    error = mse(pred, target)
    return math.inf if error == 0 else 10.0 * math.log10(1.0 / error)


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float = 255.0) -> float:
    """Mean structural similarity (1.0 for identical images)."""
    p, t = _pair(pred, target)
    if min(p.shape[0], p.shape[1]) < SSIM_WINDOW:
        raise ImageError("<metrics>", f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {p.shape[1]}x{p.shape[0]}")
    x = torch.from_numpy(p).permute(2, 0, 1).unsqueeze(1)  # (C, 1, H, W): channels as a batch
    y = torch.from_numpy(t).permute(2, 0, 1).unsqueeze(1)
    w = _gaussian_window().view(1, 1, SSIM_WINDOW, SSIM_WINDOW)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, w)  # valid region only

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean(dim=(1, 2, 3)).mean())


def image_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """All per-image metrics at once (SSIM left out for images smaller than its window)."""
    result = {"L1": l1(pred, target), "MSE": mse(pred, target), "PSNR": psnr(pred, target)}
    if min(pred.shape[:2]) >= SSIM_WINDOW:
        result["SSIM"] = ssim(pred, target)
    return result


def mean_metrics(per_image: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over images (PSNR: mean of finite values)."""
    keys = sorted({k for m in per_image for k in m})
    result = {}
    for key in keys:
        values = [m[key] for m in per_image if key in m and math.isfinite(m[key])]
        if values:
            result[key] = float(np.mean(values))
    return result
