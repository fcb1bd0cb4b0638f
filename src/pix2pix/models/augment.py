"""Differentiable augmentation of what the discriminator sees (DiffAugment).

Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training"
(NeurIPS 2020): D overfits a small training set, so every image D judges, real
or generated, in D's update and in G's, goes through the same random,
differentiable transforms (FID 62 -> 26 on 1,000 FFHQ images). The policies
and their ranges are the paper's:

- ``color``: brightness +U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5);
- ``translation``: shift by up to 1/8 of the size, zero padding;
- ``cutout``: zero a square of half the size at a random place.

pix2pix's D judges (input, output) pairs: one draw of the parameters applies
to both halves of a pair, so the pair stays aligned and the input's colours
move with the output's. With probability ``p`` < 1 each sample is augmented or
left as it is (the adaptive variant steers ``p``; see ``AdaptiveAugment``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..errors import ConfigError

POLICIES = ("color", "translation", "cutout")


def parse_policy(text: str) -> tuple[str, ...]:
    """'none' or a comma-separated list of policies -> the tuple of policies (validated)."""
    text = text.strip().lower()
    if text in ("", "none"):
        return ()
    names = tuple(part.strip() for part in text.split(","))
    for name in names:
        if name not in POLICIES:
            raise ConfigError(f"train.d_augment: unknown policy '{name}' (valid: none, or a comma-separated list of {', '.join(POLICIES)})")
    return names


def _color(x: torch.Tensor, groups: Sequence[int], generator: torch.Generator | None) -> torch.Tensor:
    b = x.shape[0]
    shape = (b, 1, 1, 1)
    brightness = torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype) - 0.5
    saturation = torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype) * 2
    contrast = torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype) + 0.5
    parts = []
    for part in torch.split(x, list(groups), dim=1):  # each image of the pair, same parameters
        part = part + brightness
        part = (part - part.mean(dim=1, keepdim=True)) * saturation + part.mean(dim=1, keepdim=True)
        mean = part.mean(dim=(1, 2, 3), keepdim=True)
        parts.append((part - mean) * contrast + mean)
    return torch.cat(parts, dim=1)


def _translation(x: torch.Tensor, generator: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), generator=generator, device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=generator, device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy.unsqueeze(0) + ty + 1, 0, h + 1)  # indices into the zero-padded image
    gx = torch.clamp(gx.unsqueeze(0) + tx + 1, 0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))  # (B, C, H + 2, W + 2), zeros around
    flat = padded.flatten(2)  # (B, C, (H + 2) * (W + 2))
    index = (gy * (w + 2) + gx).flatten(1).unsqueeze(1).expand(-1, x.shape[1], -1)
    return flat.gather(2, index).view_as(x)


def _cutout(x: torch.Tensor, generator: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    """Zero a (ratio * H, ratio * W) square centred anywhere in the image (it may stick out)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h, (b, 1, 1), generator=generator, device=x.device) - ch // 2
    left = torch.randint(0, w, (b, 1, 1), generator=generator, device=x.device) - cw // 2
    gy = torch.arange(h, device=x.device).view(1, -1, 1)
    gx = torch.arange(w, device=x.device).view(1, 1, -1)
    inside = (gy >= top) & (gy < top + ch) & (gx >= left) & (gx < left + cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(
    x: torch.Tensor,
    policies: Sequence[str],
    groups: Sequence[int] | None = None,
    p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Augment a batch (B, C, H, W) that D is about to judge, differentiably.

    Args:
        policies: from ``parse_policy``.
        groups: channel counts of the images stacked in ``x`` (pix2pix: input, output), so
            that colour statistics are taken per image while the parameters are shared.
        p: probability that a sample is augmented (1: every sample).
    """
    if not policies or p <= 0:
        return x
    groups = list(groups) if groups else [x.shape[1]]
    out = x
    for name in policies:
        if name == "color":
            out = _color(out, groups, generator)
        elif name == "translation":
            out = _translation(out, generator)
        else:
            out = _cutout(out, generator)
    if p >= 1:
        return out
    keep = (torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device) < p).to(x.dtype)
    return out * keep + x * (1 - keep)


class AdaptiveAugment:
    """The augmentation probability, steered by how sure D is on real pairs (Karras et al., 2020, ADA).

    The overfitting signal r = E[sign(D(real) - undecided)], averaged over the last
    ``interval`` steps: above ``target`` D is too sure and p rises, below it p falls, by
    ``interval * batch / ramp_images`` per adjustment (p can go from 0 to 1 within
    ``ramp_images`` images). p and the running sums are checkpointed.
    """

    def __init__(self, target: float, ramp_images: int, interval: int = 4, p: float = 0.0) -> None:
        self.target, self.ramp_images, self.interval = target, ramp_images, interval
        self.p = p
        self._sum, self._count, self._steps = 0.0, 0, 0

    def update(self, signal: float, batch: int) -> None:
        self._sum += signal
        self._count += 1
        self._steps += 1
        if self._steps % self.interval:
            return
        mean = self._sum / self._count
        step = self.interval * batch / self.ramp_images
        self.p = min(1.0, max(0.0, self.p + (step if mean > self.target else -step)))
        self._sum, self._count = 0.0, 0

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "sum": self._sum, "count": self._count, "steps": self._steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])
        self._sum, self._count, self._steps = float(state["sum"]), int(state["count"]), int(state["steps"])
