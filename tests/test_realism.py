"""Detail per octave and grid artifacts per period: a blur lowers detail, a hatch or plaid raises grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pix2pix.evaluation.realism import grid_points, realism_scores, usable_periods


def _photos(facades: Path, size: int = 128) -> list[np.ndarray]:
    files = sorted((facades / "testA").glob("*.jpg"))[:8]
    return [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC)) for f in files]


def _add(photos: list[np.ndarray], pattern: np.ndarray) -> list[np.ndarray]:
    return [np.clip(p.astype(int) + pattern, 0, 255).astype(np.uint8) for p in photos]


def _details(scores: dict[str, float]) -> list[float]:
    return [v for k, v in scores.items() if k.startswith("detail_")]


def test_photos_against_themselves_are_one_and_zero(facades: Path):
    photos = _photos(facades)
    scores = realism_scores(zip(photos, photos))
    assert set(scores) == {"detail_2px", "detail_4px", "detail_8px", "detail_16px",
                           "grid_2px", "grid_4px", "grid_8px", "grid_16px", "grid_32px"}
    assert all(v == 1.0 for v in _details(scores))
    assert all(v == 0.0 for k, v in scores.items() if k.startswith("grid_"))


def test_a_blur_lowers_detail_most_at_the_finest_octave_and_is_no_grid(facades: Path):
    photos = _photos(facades)
    blurred = [np.asarray(Image.fromarray(p).filter(ImageFilter.GaussianBlur(2.0))) for p in photos]
    scores = realism_scores(zip(blurred, photos))
    details = _details(scores)
    assert details == sorted(details) and details[0] < 0.05 and details[-1] < 0.9  # 2 px lowest, 16 px highest
    # A blur lowers a peak and its ring alike (at the 2 px lattice, on the spectrum's edge, the ring lies at
    # lower frequencies and falls less): it never reads as a grid artifact.
    assert all(v < 0.05 for k, v in scores.items() if k.startswith("grid_"))


def test_a_faint_period_2_hatch_moves_grid_2px_and_barely_detail(facades: Path):
    photos = _photos(facades)
    hatch = np.where(np.arange(128)[None, :, None] % 2 == 0, 2, -2)  # +-2/255, period 2 horizontally
    scores = realism_scores(zip(_add(photos, hatch), photos))
    assert scores["grid_2px"] > 0.5
    assert all(abs(scores[f"grid_{p}px"]) < 0.02 for p in (4, 8, 16, 32))
    assert all(abs(v - 1) < 0.03 for v in _details(scores))


def test_an_8px_plaid_moves_grid_8px_and_barely_detail(facades: Path):
    photos = _photos(facades)
    y, x = np.mgrid[:128, :128]
    plaid = np.where((x // 4 + y // 4) % 2 == 0, 3, -3)[:, :, None]  # 4 px squares: period 8 both ways
    scores = realism_scores(zip(_add(photos, plaid), photos))
    assert scores["grid_8px"] > 0.3
    assert all(abs(scores[f"grid_{p}px"]) < 0.05 for p in (2, 4, 16, 32))
    assert all(abs(v - 1) < 0.03 for v in _details(scores))


def test_a_hatch_shows_through_a_blur(facades: Path):
    """The single checkerboard ratio called a blurred, hatched picture clean; the grid measure does not."""
    photos = _photos(facades)
    blurred = [np.asarray(Image.fromarray(p).filter(ImageFilter.GaussianBlur(2.0))) for p in photos]
    hatch = np.where(np.arange(128)[None, :, None] % 2 == 0, 2, -2)
    assert realism_scores(zip(_add(blurred, hatch), photos))["grid_2px"] > 1.0


def test_lattice_points_skip_the_half_period_lattice_and_sizes_limit_the_periods():
    assert sorted(grid_points(128, 128, 2)) == [(0, 64), (64, 0), (64, 64)]
    assert len(grid_points(128, 128, 8)) == 64 - 16
    assert (64, 0) not in grid_points(128, 128, 4) and {(32, 32), (32, 0)} <= set(grid_points(128, 128, 4))
    assert usable_periods(64, 128) == ([2, 4, 8, 16], [2, 4, 8, 16])
    assert usable_periods(16, 16) == ([2, 4, 8], [2, 4])


def test_mismatched_sizes_and_tiny_images_are_refused():
    with pytest.raises(ValueError, match="differ in size"):
        realism_scores([(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))])
    with pytest.raises(ValueError, match="large enough"):
        realism_scores([(np.zeros((3, 3, 3), np.uint8), np.zeros((3, 3, 3), np.uint8))])
