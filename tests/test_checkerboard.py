"""The checkerboard measure: 1 for photos against themselves, > 1 for a hatch, < 1 for a blur."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from pix2pix.evaluation.checkerboard import checkerboard_by_period, checkerboard_ratio, grid_periods


def _photos(facades: Path, size: int = 128) -> list[np.ndarray]:
    files = sorted((facades / "testA").glob("*.jpg"))[:8]
    return [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC)) for f in files]


def test_a_faint_period_2_hatch_at_least_doubles_it(facades: Path):
    photos = _photos(facades)
    hatch = np.where(np.arange(128)[None, :, None] % 2 == 0, 2, -2)  # +-2/255, period 2 horizontally
    hatched = [np.clip(p.astype(int) + hatch, 0, 255).astype(np.uint8) for p in photos]
    assert checkerboard_ratio(zip(photos, photos), levels=7) == 1.0
    assert checkerboard_ratio(zip(hatched, photos), levels=7) >= 2.0


def test_blur_is_below_one_and_a_checkerboard_above(facades: Path):
    photos = _photos(facades)
    blurred = [np.asarray(Image.fromarray(p).filter(ImageFilter.GaussianBlur(1.0))) for p in photos]
    assert checkerboard_ratio(zip(blurred, photos), levels=7) < 0.8
    y, x = np.mgrid[:128, :128]
    board = np.where((y // 2 + x // 2) % 2 == 0, 3, -3)[:, :, None]  # period 4 in both directions
    checkered = [np.clip(p.astype(int) + board, 0, 255).astype(np.uint8) for p in photos]
    assert checkerboard_ratio(zip(checkered, photos), levels=7) > 1.1


def test_periods_follow_the_depth_and_the_size():
    assert grid_periods(128, 128, levels=7) == [2, 4, 8, 16, 32, 64]
    assert grid_periods(64, 128, levels=3) == [2, 4, 8]


def test_by_period_says_where_a_hatch_and_a_blur_show(facades: Path):
    photos = _photos(facades)
    hatch = np.where(np.arange(128)[None, :, None] % 2 == 0, 2, -2)
    hatched = checkerboard_by_period([(np.clip(p.astype(int) + hatch, 0, 255).astype(np.uint8), p) for p in photos], 7)
    assert list(hatched) == [2, 4, 8, 16, 32, 64]
    assert hatched[2] > 5 and abs(hatched[16] - 1) < 0.05  # a period-2 hatch shows at period 2 only
    blurred = checkerboard_by_period([(np.asarray(Image.fromarray(p).filter(ImageFilter.GaussianBlur(1.0))), p)
                                      for p in photos], 7)
    assert blurred[2] < blurred[8] < blurred[64] <= 1.0  # a blur takes most from the finest periods
    assert checkerboard_ratio(zip(photos, photos), 7) == np.mean(list(checkerboard_by_period(zip(photos, photos), 7).values()))
