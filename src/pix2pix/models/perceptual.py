"""Perceptual (VGG feature) loss from a local ImageNet VGG16 / VGG19 weights file.

pix2pixHD (Wang et al., 2018) adds sum_i w_i |VGG_i(fake) - VGG_i(real)|_1 over
the relu1_1 ... relu5_1 features of an ImageNet VGG19, weights 1/32, 1/16, 1/8,
1/4, 1. Nothing is downloaded: the user gives the standard torchvision state
dict (``vgg19-dcbb9e9d.pth`` / ``vgg16-397923af.pth``, or the ``features.*``
part of it), which is checked key by key and shape by shape. The network is
frozen and lives outside the checkpoint (it is not ours to train).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, shown

# torchvision's VGG "features" layouts: numbers are conv widths, "M" a 2x2 max pool.
LAYOUTS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)  # relu1_1 ... relu5_1 (pix2pixHD)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_features(layout: list[int | str]) -> nn.Sequential:
    """The ``features`` module of torchvision's VGG (same indices, so its state dict loads as is)."""
    layers: list[nn.Module] = []
    channels = 3
    for item in layout:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = int(item)
    return nn.Sequential(*layers)


def _block_starts(layout: list[int | str]) -> list[int]:
    """Indices (in ``features``) of the ReLU after the first conv of each of the five blocks."""
    starts, index, new_block = [], 0, True
    for item in layout:
        if item == "M":
            index += 1
            new_block = True
            continue
        if new_block:
            starts.append(index + 1)  # conv at index, its ReLU at index + 1
            new_block = False
        index += 2
    return starts


class VGGLoss(nn.Module):
    """Weighted L1 between VGG features of two batches in [-1, 1] (grey inputs repeated to RGB)."""

    def __init__(self, features: nn.Sequential, taps: list[int]) -> None:
        super().__init__()
        self.features = features.eval().requires_grad_(False)
        self.taps = taps
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            x = x[:, :3]
        return ((x + 1) / 2 - self.mean) / self.std

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        x, y = self._normalise(fake.float()), self._normalise(real.float())
        loss = fake.new_zeros((), dtype=torch.float32)
        tap = 0
        for index, layer in enumerate(self.features):
            x, y = layer(x), layer(y.detach())
            if index == self.taps[tap]:
                loss = loss + LAYER_WEIGHTS[tap] * F.l1_loss(x, y.detach())
                tap += 1
                if tap == len(self.taps):
                    break
        return loss


def load_vgg_loss(path: str | Path, device: torch.device) -> VGGLoss:
    """Build the loss from a local VGG16/19 state dict; a one-line error when the file does not fit."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"loss.vgg_weights: {shown(path)} not found (give a local VGG16 or VGG19 ImageNet "
                          "state dict, e.g. torchvision's vgg19-dcbb9e9d.pth; nothing is downloaded)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure: not a weights file
        raise ConfigError(f"loss.vgg_weights: {shown(path)} is not a readable state dict ({str(exc).splitlines()[0][:100]})") from None
    if not isinstance(state, dict):
        raise ConfigError(f"loss.vgg_weights: {shown(path)} holds no state dict")
    features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")} or dict(state)
    for name, layout in LAYOUTS.items():
        net = vgg_features(layout)
        expected = net.state_dict()
        if set(features) == set(expected) and all(features[k].shape == expected[k].shape for k in expected):
            net.load_state_dict(features, strict=True)
            return VGGLoss(net, _block_starts(layout)).to(device)
    raise ConfigError(f"loss.vgg_weights: {shown(path)} is neither a VGG16 nor a VGG19 state dict "
                      f"({len(features)} feature tensors; torchvision's VGG16 has 26, VGG19 32)")
