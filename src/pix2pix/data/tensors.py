"""uint8 at the edges, float in [-1, 1] inside models: the two conversions."""

from __future__ import annotations

import numpy as np
import torch


def to_chw_uint8(array: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 numpy -> (C, H, W) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (any shape) -> float32 in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8, rounded (inverse of ``to_model_range`` up to rounding)."""
    return images.detach().float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)

