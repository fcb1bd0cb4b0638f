"""Discriminators: PatchGAN (pix2pix paper, sec. 3.2.2) and the 1x1 PixelGAN.

A PatchGAN scores every overlapping patch of its input as real or fake; with
``n_layers=3`` each output sees a 70x70 patch. Outputs are raw logits/scores:
the loss decides how to read them. In pix2pix, D's input is the condition
concatenated with the real or generated output, so ``in_channels`` is their sum.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import conv_bias, norm_layer
from .registry import register_discriminator


class PatchDiscriminator(nn.Module):
    def __init__(self, *, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        width = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1  # the last of these keeps the resolution
            layers += [nn.Conv2d(width, out, 4, stride=stride, padding=1, bias=bias), make_norm(out), nn.LeakyReLU(0.2)]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (B, 1, H', W') patch scores


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: judges colours per pixel, no spatial structure."""

    def __init__(self, *, in_channels: int, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
            make_norm(ndf * 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (B, 1, H, W)


@register_discriminator("patchgan")
def patchgan(*, in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    """PatchGAN of ``n_layers`` (3: the paper's 70x70)."""
    return PatchDiscriminator(in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm)


@register_discriminator("basic")
def basic(*, in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    """The research code's name for the 70x70 PatchGAN (n_layers fixed to 3)."""
    return PatchDiscriminator(in_channels=in_channels, ndf=ndf, n_layers=3, norm=norm)


@register_discriminator("pixel")
def pixel(*, in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    return PixelDiscriminator(in_channels=in_channels, ndf=ndf, norm=norm)
