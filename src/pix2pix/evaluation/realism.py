"""Realism measures from the power spectrum: detail per octave and grid artifacts per period.

L1, PSNR and SSIM reward the average of all plausible outputs, which is soft.
These two measures tell the two ways an output departs from a photo apart:

- **Detail per octave** (``detail_Ppx``): the outputs' power at radial
  frequencies in (1/(2P), 1/P] cycles per pixel (periods [P, 2P) px, every
  orientation), summed over the images, over the targets' power there.
  1 = the photos' detail; < 1 blurred; > 1 noisy.
- **Grid artifacts per period** (``grid_Ppx``): at each point (k H/P, l W/P) of
  the period-P lattice of the spectrum that is not also on the period-P/2
  lattice, the natural log of the mean power of the 3x3 bins around it over the
  median power of the ring of bins 2 to 4 away (Chebyshev distance); averaged
  over the points and the images; outputs minus targets. 0 = no more peaked than
  the photos; > 0 a checkerboard, hatch or plaid of that period. A blur lowers
  peaks and their surroundings alike, so it barely moves this one.

Both use the luminance (Rec. 601) minus its mean, under a 2-D Hann window.
``SCORER_VERSION`` changes whenever a definition here changes, so that benchmark
results scored by different code are never mixed.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

SCORER_VERSION = 2  # 1: the single "checkerboard" ratio; 2: detail per octave + grid artifacts per period
DETAIL_PERIODS = (2, 4, 8, 16)
GRID_PERIODS = (2, 4, 8, 16, 32)
_RING_INNER, _RING_OUTER = 2, 4


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W[, C]) uint8 -> (H, W) float luminance in [0, 1] (Rec. 601 for RGB)."""
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


def radial_frequency(height: int, width: int) -> np.ndarray:
    """(H, W) radial frequency in cycles per pixel of each DFT bin."""
    fy, fx = np.fft.fftfreq(height), np.fft.fftfreq(width)
    return np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def band_power(spectrum: np.ndarray, period: int) -> float:
    """Power at radial frequencies in (1 / (2 period), 1 / period]."""
    r = radial_frequency(*spectrum.shape)
    return float(spectrum[(r > 1 / (2 * period)) & (r <= 1 / period)].sum())


def grid_points(height: int, width: int, period: int) -> list[tuple[int, int]]:
    """Bins (k H/P, l W/P) of the period-P lattice that are not on the period-P/2 lattice."""
    return [(round(k * height / period) % height, round(l * width / period) % width)
            for k in range(period) for l in range(period) if k % 2 or l % 2]


def _ring_offsets() -> tuple[np.ndarray, np.ndarray]:
    d = np.arange(-_RING_OUTER, _RING_OUTER + 1)
    dy, dx = np.meshgrid(d, d, indexing="ij")
    ring = np.maximum(abs(dy), abs(dx)) >= _RING_INNER
    return dy[ring], dx[ring]


def grid_peak(spectrum: np.ndarray, period: int) -> float:
    """Mean over the period's lattice points of log(mean 3x3 power / median power of the ring 2-4 bins away)."""
    h, w = spectrum.shape
    points = np.array(grid_points(h, w, period))  # (N, 2)
    ring_y, ring_x = _ring_offsets()
    near_y, near_x = (a.ravel() for a in np.meshgrid(np.arange(-1, 2), np.arange(-1, 2), indexing="ij"))
    centre = spectrum[(points[:, :1] + near_y) % h, (points[:, 1:] + near_x) % w].mean(1)  # (N,)
    ring = np.median(spectrum[(points[:, :1] + ring_y) % h, (points[:, 1:] + ring_x) % w], axis=1)  # (N,)
    tiny = np.finfo(np.float64).tiny
    return float(np.mean(np.log((centre + tiny) / (ring + tiny))))


def usable_periods(height: int, width: int) -> tuple[list[int], list[int]]:
    """Detail bands and grid periods that an image of this size can show.

    A detail band needs its period to fit twice into the smaller side; a grid
    period needs 4 bins between lattice points, so that the ring around one point
    does not reach the next.
    """
    side = min(height, width)
    return [p for p in DETAIL_PERIODS if 2 * p <= side], [p for p in GRID_PERIODS if 4 * p <= side]


class RealismAccumulator:
    """Adds (output, target) pairs one at a time, so a test split need not be held in memory."""

    def __init__(self) -> None:
        self._out_detail: dict[int, float] = {}
        self._target_detail: dict[int, float] = {}
        self._grid_diff: dict[int, list[float]] = {}

    def add(self, output: np.ndarray, target: np.ndarray) -> None:
        if output.shape[:2] != target.shape[:2]:
            raise ValueError(f"output {output.shape} and target {target.shape} differ in size")
        so, st = power_spectrum(output), power_spectrum(target)
        details, grids = usable_periods(*output.shape[:2])
        for p in details:
            self._out_detail[p] = self._out_detail.get(p, 0.0) + band_power(so, p)
            self._target_detail[p] = self._target_detail.get(p, 0.0) + band_power(st, p)
        for p in grids:
            self._grid_diff.setdefault(p, []).append(grid_peak(so, p) - grid_peak(st, p))

    @property
    def measured(self) -> bool:
        """Whether any pair was large enough to measure."""
        return bool(self._out_detail)

    def scores(self) -> dict[str, float]:
        """``detail_Ppx`` (outputs' / targets' band power) and ``grid_Ppx`` (outputs' minus targets' peak log-ratio)."""
        if not self._out_detail:
            raise ValueError("no image pairs large enough to measure detail (at least 4x4 pixels)")
        scores = {f"detail_{p}px": self._out_detail[p] / self._target_detail[p]
                  for p in sorted(self._out_detail) if self._target_detail[p] > 0}
        scores.update({f"grid_{p}px": float(np.mean(v)) for p, v in sorted(self._grid_diff.items())})
        return scores


def realism_scores(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Both measures over (output, target) uint8 pairs, each pair of equal size (pairs may differ in size)."""
    accumulator = RealismAccumulator()
    for output, target in pairs:
        accumulator.add(output, target)
    return accumulator.scores()


def format_realism(scores: dict[str, float]) -> str:
    """One line: detail ratios and grid excesses by period."""
    detail = " ".join(f"{k[7:]} {v:.2f}" for k, v in scores.items() if k.startswith("detail_"))
    grid = " ".join(f"{k[5:]} {v:+.2f}" for k, v in scores.items() if k.startswith("grid_"))
    return f"detail (1 = the targets') {detail}; grid artifacts (0 = the targets') {grid}"
