"""Discriminators: PatchGAN (pix2pix paper, sec. 3.2.2), the 1x1 PixelGAN, and pix2pixHD's multi-scale stack.

A PatchGAN scores every overlapping patch of its input as real or fake; with
``n_layers=3`` each output sees a 70x70 patch. Outputs are raw logits/scores:
the loss decides how to read them. In pix2pix, D's input is the condition
concatenated with the real or generated output, so ``in_channels`` is their sum.

``forward(x, features=True)`` also returns the activations after each block, for
pix2pixHD's feature-matching loss. The multi-scale stack (``num_d`` > 1) runs the
same PatchGAN design on the input at 1, 1/2, 1/4 scale (3x3 average pooling,
stride 2), so the coarse copies judge global structure and the fine one texture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .layers import conv_bias, norm_layer
from .registry import register_discriminator

Scores = list[list[torch.Tensor]]  # per scale: [block activations..., scores]


def _with_activations(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """[each block's output (after its activation)..., the scores]: what feature matching compares."""
    outputs = []
    for layer in model:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            outputs.append(x)
    return outputs + [x]


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
        # n_layers stride-2 convolutions, then two 4x4 stride-1 ones that each take a pixel off: the map
        # must still be 3 wide after the halvings (a 1x1 map before the last one leaves batch norm one value)
        self.smallest_input = 3 * 2**n_layers

    def forward(self, x: torch.Tensor, features: bool = False) -> torch.Tensor | list[torch.Tensor]:
        return _with_activations(self.model, x) if features else self.model(x)  # (B, 1, H', W') patch scores


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

    def forward(self, x: torch.Tensor, features: bool = False) -> torch.Tensor | list[torch.Tensor]:
        return _with_activations(self.model, x) if features else self.model(x)  # (B, 1, H, W)


class MultiScaleDiscriminator(nn.Module):
    """``num_d`` discriminators of one design, the k-th judging the input downsampled k times (pix2pixHD)."""

    def __init__(self, discriminators: list[nn.Module]) -> None:
        super().__init__()
        self.scales = nn.ModuleList(discriminators)
        # the k-th scale sees ceil(size / 2**k) pixels
        self.smallest_input = max((getattr(net, "smallest_input", 1) - 1) * 2**k + 1 for k, net in enumerate(discriminators))

    def forward(self, x: torch.Tensor, features: bool = False) -> list[torch.Tensor] | Scores:
        outputs = []
        for index, net in enumerate(self.scales):
            if index:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            outputs.append(net(x, features=features))
        return outputs


def judge(D: nn.Module, x: torch.Tensor, features: bool = False) -> Scores:
    """Any discriminator's verdict on ``x``, as a list over scales of [block activations..., scores]
    (without ``features``: [scores] per scale)."""
    out = D(x, features=features)
    if isinstance(out, torch.Tensor):  # one scale, scores only
        return [[out]]
    if isinstance(out[0], torch.Tensor):  # one scale with its activations, or several scales' scores
        return [out] if features else [[scores] for scores in out]
    return out


def apply_spectral_norm(net: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al., 2018) on every convolution of ``net``."""
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Conv2d):
                setattr(module, name, spectral_norm(child))
    return net


def _patch_or_pixel(kind: str, *, in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    if kind == "pixel":
        return PixelDiscriminator(in_channels=in_channels, ndf=ndf, norm=norm)
    return PatchDiscriminator(in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm)


def _stack(kind: str, *, in_channels: int, ndf: int, n_layers: int, norm: str, num_d: int, spectral: bool) -> nn.Module:
    nets = [_patch_or_pixel(kind, in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm) for _ in range(num_d)]
    if spectral:
        nets = [apply_spectral_norm(net) for net in nets]
    return nets[0] if num_d == 1 else MultiScaleDiscriminator(nets)


@register_discriminator("patchgan")
def patchgan(*, in_channels: int, ndf: int, n_layers: int, norm: str, num_d: int = 1, spectral_norm: bool = False) -> nn.Module:
    """PatchGAN of ``n_layers`` (3: the paper's 70x70); ``num_d`` > 1: at 1, 1/2, 1/4 scale."""
    return _stack("patchgan", in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm, num_d=num_d, spectral=spectral_norm)


@register_discriminator("basic")
def basic(*, in_channels: int, ndf: int, n_layers: int, norm: str, num_d: int = 1, spectral_norm: bool = False) -> nn.Module:
    """The research code's name for the 70x70 PatchGAN (n_layers fixed to 3)."""
    return _stack("patchgan", in_channels=in_channels, ndf=ndf, n_layers=3, norm=norm, num_d=num_d, spectral=spectral_norm)


@register_discriminator("pixel")
def pixel(*, in_channels: int, ndf: int, n_layers: int, norm: str, num_d: int = 1, spectral_norm: bool = False) -> nn.Module:
    return _stack("pixel", in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm, num_d=num_d, spectral=spectral_norm)
