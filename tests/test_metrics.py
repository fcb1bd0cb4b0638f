"""Metrics pinned to numbers that do not come from the code under test."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from pix2pix.evaluation.fid import fid_from_features, extract_features, frechet_distance, kid_from_features, polynomial_mmd
from pix2pix.metrics import l1, mse, psnr, ssim
from pix2pix.evaluation.segmentation import Palette, confusion, load_palette, segmentation_scores
from pix2pix.errors import ConfigError


def synthetic():
    y, x = np.mgrid[0:32, 0:32]
    a = np.stack([(x * 8) % 256, (y * 8) % 256, ((x + y) * 4) % 256], 2).astype(np.uint8)
    b = np.clip(a.astype(int) + np.random.default_rng(0).integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    return a, b, (255 - a).astype(np.uint8)


def test_ssim_matches_the_standard_definition():
    """Reference values from scikit-image's structural_similarity with Wang et al.'s settings
    (gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255), computed once."""
    a, b, c = synthetic()
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a, b) == pytest.approx(0.4907328236312023, abs=1e-9)
    assert ssim(a, c) == pytest.approx(-0.45211137039473853, abs=1e-9)


def test_l1_mse_psnr_by_hand():
    a = np.zeros((4, 4, 1), np.uint8)
    b = np.full((4, 4, 1), 51, np.uint8)  # 0.2 on the 0-1 scale
    assert l1(a, b) == pytest.approx(0.2)
    assert mse(a, b) == pytest.approx(0.04)
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / 0.04))
    assert psnr(a, a) == math.inf


def test_frechet_distance_of_known_gaussians():
    # 1-D: (0 - 2)^2 + 1 + 4 - 2 * sqrt(1 * 4) = 5
    assert frechet_distance(np.array([0.0]), np.array([[1.0]]), np.array([2.0]), np.array([[4.0]])) == pytest.approx(5.0)
    # diagonal 2-D: sum over dimensions
    expected = (1 + 0.25 + 4 - 2 * 1) + (0 + 9 + 1 - 2 * 3)
    value = frechet_distance(np.array([1.0, 0.0]), np.diag([0.25, 9.0]), np.array([0.0, 0.0]), np.diag([4.0, 1.0]))
    assert value == pytest.approx(expected)


def test_kid_unbiased_estimator_by_hand():
    x, y = np.array([[1.0], [2.0]]), np.array([[0.0], [3.0]])
    # k(a, b) = (a * b + 1)^3: off-diagonal XX = 27, YY = 1; XY mean = (1 + 64 + 1 + 343) / 4
    assert polynomial_mmd(x, y) == pytest.approx(27 + 1 - 2 * 409 / 4)


def test_kid_is_unbiased_for_equal_distributions():
    rng = np.random.default_rng(0)
    values = [polynomial_mmd(rng.normal(size=(10, 4)), rng.normal(size=(10, 4))) for _ in range(400)]
    mean, stderr = np.mean(values), np.std(values) / np.sqrt(len(values))
    assert abs(mean) < 3 * stderr  # the unbiased estimate centres on 0 ...
    shifted = [polynomial_mmd(rng.normal(size=(10, 4)), rng.normal(1.0, size=(10, 4))) for _ in range(50)]
    assert np.mean(shifted) > 10 * stderr  # ... and is clearly positive when the distributions differ


def small_feature_net() -> nn.Module:
    """A randomly initialised stand-in for Inception."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def test_fid_and_kid_on_a_stand_in_network():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 200, (24, 24, 3), dtype=np.uint8) for _ in range(40)]
    net = small_feature_net()
    base = extract_features(net, images, size=32)
    assert base.shape == (40, 16)
    assert fid_from_features(base, base) == pytest.approx(0.0, abs=1e-6)
    small = extract_features(net, [np.clip(i.astype(int) + 20, 0, 255).astype(np.uint8) for i in images], size=32)
    large = extract_features(net, [np.clip(i.astype(int) + 50, 0, 255).astype(np.uint8) for i in images], size=32)
    assert 0 < fid_from_features(base, small) < fid_from_features(base, large)
    assert kid_from_features(base, small)[0] < kid_from_features(base, large)[0]


def test_segmentation_scores_by_hand():
    palette = Palette(["sky", "wall"], np.array([[0, 0, 255], [255, 0, 0]]))
    target = np.zeros((4, 4, 3), np.uint8)
    target[:, :2] = (10, 0, 240)  # noisy sky
    target[:, 2:] = (250, 5, 5)  # noisy wall
    pred = np.zeros_like(target)
    pred[:] = (0, 0, 255)  # everything predicted as sky
    scores = segmentation_scores(palette, confusion(palette, pred, target))
    assert scores["pixel_accuracy"] == pytest.approx(0.5)
    assert scores["per_class"]["sky"] == {"accuracy": 1.0, "IoU": 0.5}
    assert scores["per_class"]["wall"] == {"accuracy": 0.0, "IoU": 0.0}
    assert scores["mean_class_accuracy"] == pytest.approx(0.5) and scores["mean_IoU"] == pytest.approx(0.25)
    perfect = segmentation_scores(palette, confusion(palette, target, target))
    assert perfect["pixel_accuracy"] == 1.0 and perfect["mean_IoU"] == 1.0


def test_palettes(tmp_path):
    assert len(load_palette("facades").names) == len(load_palette("facades").colors)
    path = tmp_path / "p.json"
    path.write_text('{"names": ["a", "b"], "colors": [[0, 0, 0], [255, 255, 255]]}')
    assert load_palette(str(path)).names == ["a", "b"]
    path.write_text('{"colors": [[0, 0]]}')
    with pytest.raises(ConfigError, match="colors"):
        load_palette(str(path))
    with pytest.raises(ConfigError, match="not a built-in palette"):
        load_palette("cityscapes-ish")
