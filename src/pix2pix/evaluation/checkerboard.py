"""A measure of checkerboard and hatch artifacts: energy on the upsampling grid, output / target.

Transposed convolutions with stride 2 leave patterns whose period is 2 pixels
(the last layer), 4 (the one before), 8, ... (Odena et al., 2016,
"Deconvolution and Checkerboard Artifacts"). So for each output and its
target: luminance (Rec. 601), mean removed, a 2-D Hann window, the power
spectrum; for each period P = 2, 4, ... (up to 2 ** ``levels`` and half the
image size) the power at that period's fundamentals, horizontal (0, N/P),
vertical (N/P, 0) and diagonal (N/P, +-N/P), with their mirror images (exact
DFT bins: a pattern of period P on an image of N pixels, N a multiple of P,
puts its energy there, while a photo spreads its own over every bin). Per period
the outputs' power summed over the images is divided by the targets'; the
measure is the mean of these ratios over the periods, so that each period
counts once and the fine periods, where photos hold little energy and
artifacts show most, are not drowned by the coarse ones.

1.0: the outputs have the photos' energy on that grid; > 1: hatched or
checkered; < 1: smoother (blurrier) than the photos.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W[, C]) uint8 -> (H, W) float luminance in [0, 1]."""
    x = image.astype(np.float64) / 255.0
    if x.ndim == 2:
        return x
    if x.shape[2] >= 3:
        return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return x[..., 0]


def power_spectrum(image: np.ndarray) -> np.ndarray:
    """Hann-windowed power spectrum of the luminance, (H, W), zero frequency at [0, 0]."""
    y = luminance(image)
    y = y - y.mean()
    window = np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    return np.abs(np.fft.fft2(y * window)) ** 2


def grid_periods(height: int, width: int, levels: int) -> list[int]:
    """Periods 2, 4, ..., 2 ** levels that fit twice into the smaller side."""
    smallest = min(height, width)
    return [2**k for k in range(1, levels + 1) if 2 ** (k + 1) <= smallest]


def grid_power(spectrum: np.ndarray, period: int) -> float:
    """Power at the horizontal, vertical and diagonal fundamentals of ``period`` (and their mirrors)."""
    h, w = spectrum.shape
    fy, fx = h // period, w // period
    bins = {((sy * cy) % h, (sx * cx) % w) for cy, cx in ((0, fx), (fy, 0), (fy, fx), (fy, -fx))
            for sy in (1, -1) for sx in (1, -1)}
    bins.discard((0, 0))
    return float(sum(spectrum[y, x] for y, x in bins))


def checkerboard_by_period(pairs: Iterable[tuple[np.ndarray, np.ndarray]], levels: int) -> dict[int, float]:
    """Per grid period, outputs' power / targets' power on that period's fundamentals, summed over the images.

    Says where an output departs from the photos: hatch shows at the fine periods (2, 4),
    blur as a deficit that grows towards them.

    Args:
        pairs: (output, target) uint8 images of equal size.
        levels: upsampling layers of the generator (U-Net depth): periods 2 .. 2 ** levels.
    """
    out_power: dict[int, float] = {}
    target_power: dict[int, float] = {}
    for output, target in pairs:
        if output.shape[:2] != target.shape[:2]:
            raise ValueError(f"output {output.shape} and target {target.shape} differ in size")
        so, st = power_spectrum(output), power_spectrum(target)
        for period in grid_periods(*output.shape[:2], levels):
            out_power[period] = out_power.get(period, 0.0) + grid_power(so, period)
            target_power[period] = target_power.get(period, 0.0) + grid_power(st, period)
    return {p: out_power[p] / target_power[p] for p in sorted(out_power) if target_power[p] > 0}


def mean_over_periods(ratios: dict[int, float]) -> float:
    """The measure from ``checkerboard_by_period``'s ratios: their mean, each period counting once."""
    if not ratios:
        raise ValueError("no image pairs large enough to measure")
    return float(np.mean(list(ratios.values())))


def checkerboard_ratio(pairs: Iterable[tuple[np.ndarray, np.ndarray]], levels: int) -> float:
    """Mean over the grid's periods of (outputs' power / targets' power) on that period's fundamentals.

    Args:
        pairs: (output, target) uint8 images of equal size.
        levels: upsampling layers of the generator (U-Net depth): periods 2 .. 2 ** levels.
    """
    return mean_over_periods(checkerboard_by_period(pairs, levels))
