"""FID and KID from feature vectors, and feature extraction from uint8 images.

FID (Heusel et al., 2017): ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
KID (Binkowski et al., 2018): unbiased MMD^2 with the kernel (x.y / d + 1)^3,
averaged over random subsets (clean-fid / torch-fidelity: 100 subsets of up to
1000). FID is biased for small sets; below 2,048 images prefer KID.
"""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.io import convert_channels

FID_MIN_IMAGES = 2048


def extract_features(net: nn.Module, images: Sequence[np.ndarray], batch_size: int = 32, size: int = 299) -> np.ndarray:
    """(H, W, C) uint8 images of any sizes -> (N, D) float64 features of ``net`` (inputs in [0, 1])."""
    device = next(net.parameters()).device
    features = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = []
            for image in images[start : start + batch_size]:
                x = torch.from_numpy(convert_channels(image, 3)).permute(2, 0, 1).float().div(255).unsqueeze(0)
                batch.append(F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False))
            features.append(net(torch.cat(batch).to(device)).double().cpu().numpy())
    return np.concatenate(features) if features else np.zeros((0, 0))


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """FID between two Gaussians. Tr((S1 S2)^1/2) = sum of sqrt eigenvalues of S1^1/2 S2 S1^1/2 (symmetric PSD)."""
    root = _sqrtm_psd(sigma1)
    middle = root @ sigma2 @ root
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two (N, D) feature sets (needs N >= 2 on each side)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("FID needs at least 2 images per set")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between two equal-size feature sets with the cubic polynomial kernel."""
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m = len(x)
    same = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(same - 2 * k_xy.mean())


def kid_from_features(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased polynomial MMD^2 over random equal-size subsets."""
    m = min(len(a), len(b), subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 images per set")
    rng = np.random.default_rng(seed)
    if m == len(a) == len(b):
        subsets = 1  # every subset would be the whole set
    values = [polynomial_mmd(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def warn_small_fid(count: int) -> None:
    if count < FID_MIN_IMAGES:
        print(f"warning: FID on {count} images (< {FID_MIN_IMAGES}) is unreliable and biased upwards; "
              "compare KID instead for small sets", file=sys.stderr)
