"""Learning-rate schedules as pure functions of the epoch (nothing to save, exact on resume)."""

from __future__ import annotations

import math

from ..config import TrainConfig


def lr_factor(cfg: TrainConfig, epoch: int) -> float:
    """Multiplier of the base learning rate during 0-based ``epoch``.

    linear: the paper's schedule, constant for n_epochs then linearly to ~0 over
    n_epochs_decay (the research code's lambda rule, exactly).
    """
    total = cfg.n_epochs + cfg.n_epochs_decay
    if cfg.lr_policy == "constant":
        return 1.0
    if cfg.lr_policy == "linear":
        return max(0.0, 1.0 - max(0, epoch + 1 - cfg.n_epochs) / float(cfg.n_epochs_decay + 1))
    if cfg.lr_policy == "step":
        return 0.1 ** (epoch // cfg.lr_step_epochs)
    return 0.5 * (1.0 + math.cos(math.pi * min(epoch, total) / total))  # cosine over the whole run


def batch_lr_factor(cfg: TrainConfig) -> float:
    """Multiplier of the base learning rate for ``batch_size`` (``train.lr_batch_scaling``)."""
    if cfg.lr_batch_scaling == "linear":
        return float(cfg.batch_size)
    if cfg.lr_batch_scaling == "sqrt":
        return math.sqrt(cfg.batch_size)
    return 1.0
