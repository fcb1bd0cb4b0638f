"""Any input size: reflect-pad to the network's size multiple, run, crop back."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def padding_for(height: int, width: int, multiple: int) -> tuple[int, int]:
    """Extra rows and columns that bring (height, width) to a multiple of ``multiple``."""
    return (-height) % multiple, (-width) % multiple


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad (B, C, H, W) at the bottom/right by reflection (replicate where too small to reflect)."""
    height, width = x.shape[-2:]
    extra_h, extra_w = padding_for(height, width, multiple)
    if not extra_h and not extra_w:
        return x
    while extra_h or extra_w:  # reflection can add less than the input's size per pass
        step_h, step_w = min(extra_h, x.shape[-2] - 1), min(extra_w, x.shape[-1] - 1)
        if step_h == 0 and step_w == 0:
            return F.pad(x, (0, extra_w, 0, extra_h), mode="replicate")
        x = F.pad(x, (0, step_w, 0, step_h), mode="reflect")
        extra_h, extra_w = extra_h - step_h, extra_w - step_w
    return x


def run_padded(net: nn.Module, x: torch.Tensor, multiple: int, latent: torch.Tensor | None = None) -> torch.Tensor:
    """net(x) (or net(x, latent): a code per image) for any H, W: pad to ``multiple``, run, crop back."""
    height, width = x.shape[-2:]
    padded = pad_to_multiple(x, multiple)
    out = net(padded) if latent is None else net(padded, latent)
    return out[..., :height, :width]


def latent_size(net: nn.Module) -> int:
    """The length of the code z a generator takes beside its input (0: none), through DDP / compile /
    export wrappers (which declare ``latent`` themselves)."""
    for candidate in (net, getattr(net, "module", None), getattr(net, "_orig_mod", None)):
        if candidate is not None and hasattr(candidate, "latent"):
            return int(candidate.latent)
    return 0


def size_multiple(net: nn.Module) -> int:
    """The size multiple a generator needs (1 when it declares none), through DDP / compile wrappers."""
    for candidate in (net, getattr(net, "module", None), getattr(net, "_orig_mod", None)):
        if candidate is not None and hasattr(candidate, "size_multiple"):
            return int(candidate.size_multiple)
    inner = getattr(net, "module", None)
    return size_multiple(inner) if isinstance(inner, nn.Module) else 1
