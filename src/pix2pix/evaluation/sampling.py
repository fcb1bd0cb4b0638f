"""Scores of a model that gives several pictures per input (``Translator.sample_arrays``): how different its
samples are, how close the best of them comes to the target, and how well the target's own code reproduces it.

Diversity is the mean pairwise L1 between an input's samples (0-1 scale; 0: every sample the same, mode
collapse). The BicycleGAN paper measured it with LPIPS, a learned distance whose weights we cannot ship;
L1 counts the same changes of colour and material, without LPIPS's weighting by what a network notices.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ..metrics import l1

DEFAULT_SAMPLES = 8  # pictures per input in ``pix2pix test`` for a model with a latent code


def diversity(samples: list[np.ndarray]) -> float:
    """Mean L1 over every pair of one input's samples (needs two or more)."""
    if len(samples) < 2:
        raise ValueError("diversity needs at least two samples")
    return float(np.mean([l1(a, b) for a, b in combinations(samples, 2)]))


def sample_scores(samples: list[np.ndarray], target: np.ndarray, reconstruction: np.ndarray | None = None) -> dict[str, float]:
    """One input's row: ``diversity`` (with two samples or more), ``best_of_K_L1`` (the sample closest to the
    target: what a user choosing among K gets) and, given the output for the target's own code,
    ``reconstruction_L1`` (how much of the target's appearance the code carries)."""
    scores = {f"best_of_{len(samples)}_L1": min(l1(sample, target) for sample in samples)}
    if len(samples) > 1:
        scores["diversity"] = diversity(samples)
    if reconstruction is not None:
        scores["reconstruction_L1"] = l1(reconstruction, target)
    return scores
