"""Encoders: an image -> the mean and log-variance of a latent code (BicycleGAN's E, Zhu et al., 2017)."""

from __future__ import annotations

import torch
from torch import nn

from .layers import conv_bias, norm_layer
from .registry import register_encoder


class _DownBlock(nn.Module):
    """Residual block that halves the resolution: (norm, LeakyReLU, 3x3 conv) twice, then 2x2 average
    pooling; the shortcut pools and projects with a 1x1 conv (the paper's encoder's BasicBlock)."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        self.body = nn.Sequential(
            make_norm(cin), nn.LeakyReLU(0.2), nn.Conv2d(cin, cin, 3, padding=1, bias=bias),
            make_norm(cin), nn.LeakyReLU(0.2), nn.Conv2d(cin, cout, 3, padding=1, bias=True), nn.AvgPool2d(2),
        )
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class ResnetEncoder(nn.Module):
    """A 4x4 stride-2 conv, ``n_blocks - 1`` residual down blocks (widths nef x 1, 2, 3, 4, 4, ...), a global
    average and two linear heads: ``forward(image) -> (mu, logvar)``, each (B, latent)."""

    def __init__(self, *, in_channels: int, latent: int, nef: int = 64, n_blocks: int = 5, norm: str = "instance") -> None:
        super().__init__()
        widths = [nef * min(i + 1, 4) for i in range(n_blocks)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, stride=2, padding=1)]
        layers += [_DownBlock(widths[i], widths[i + 1], norm) for i in range(n_blocks - 1)]
        self.features = nn.Sequential(*layers, nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.mu = nn.Linear(widths[-1], latent)
        self.logvar = nn.Linear(widths[-1], latent)
        # the conv and each block halve the image: the smallest one leaves 2x2 for the last block's norms
        self.smallest_input = 2**n_blocks

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return self.mu(features), self.logvar(features)


@register_encoder("resnet")
def resnet(*, in_channels: int, latent: int, nef: int, norm: str, image_size: int) -> nn.Module:
    """The paper's ResNet encoder, 4 blocks up to 128 px images (its resnet_128) and 5 above (resnet_256)."""
    return ResnetEncoder(in_channels=in_channels, latent=latent, nef=nef, n_blocks=4 if image_size <= 128 else 5, norm=norm)
