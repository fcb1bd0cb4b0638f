"""Training methods: each owns its networks, optimizers and one training step."""

from __future__ import annotations

import torch

from ..config import Config
from ..errors import ConfigError
from .base import Method, StepRuntime
from .pix2pix import Pix2Pix, pix2pix_step

# Generator names inside a checkpoint, per method and translation direction.
GENERATOR_KEYS = {"pix2pix": {"AtoB": "G"}, "cyclegan": {"AtoB": "G_A", "BtoA": "G_B"}}


def build_method(cfg: Config, channels: tuple[int, int], device: torch.device) -> Method:
    """The method object named by ``model.method``, networks initialised on ``device``."""
    if cfg.model.method == "pix2pix":
        return Pix2Pix(cfg, channels, device)
    if cfg.model.method == "cyclegan":
        from .cyclegan import CycleGAN

        return CycleGAN(cfg, channels, device)
    raise ConfigError(f"model.method: unknown method '{cfg.model.method}' (valid: pix2pix, cyclegan)")


__all__ = ["GENERATOR_KEYS", "Method", "Pix2Pix", "StepRuntime", "build_method", "pix2pix_step"]
