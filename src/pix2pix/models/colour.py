"""Colorization in Lab: the generator predicts only the ab channels, the L channel is the input's.

The research repository's colorization mode predicts Lab's ab from L. Here the
conversion back to RGB is a differentiable layer inside the generator
(``LabColorization``), so the model still takes the grey image and returns RGB:
the loss, D, the scores, saved images, export and serving see RGB as for every
other task, and the output's lightness is the input's exactly.
"""

from __future__ import annotations

import torch

from .generators import TaskComposite

# D65 white point and the sRGB primaries (IEC 61966-2-1), as scikit-image's rgb2lab / lab2rgb.
WHITE = (0.95047, 1.0, 1.08883)
XYZ_TO_RGB = ((3.2404542, -1.5371385, -0.4985314), (-0.9692660, 1.8760108, 0.0415560), (0.0556434, -0.2040259, 1.0572252))
AB_RANGE = 110.0  # tanh's (-1, 1) -> ab in (-110, 110), which holds the sRGB gamut
_EPS = 6.0 / 29.0


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    return torch.where(c <= 0.04045, c / 12.92, ((c.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: torch.Tensor) -> torch.Tensor:
    # clamp inside the power: its gradient is infinite at 0
    return torch.where(c <= 0.0031308, 12.92 * c, 1.055 * c.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def lightness(grey: torch.Tensor) -> torch.Tensor:
    """Lab L (0-100) of a grey image in [0, 1] (its value taken as gamma-encoded luminance)."""
    y = srgb_to_linear(grey)
    f = torch.where(y > _EPS**3, y.clamp(min=_EPS**3) ** (1 / 3), y / (3 * _EPS**2) + 4 / 29)
    return 116 * f - 16


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) Lab (L 0-100, ab about -110..110) -> sRGB in [0, 1]."""
    l, a, b = lab[:, 0:1], lab[:, 1:2], lab[:, 2:3]
    fy = (l + 16) / 116
    channels = []
    for f, white in zip((fy + a / 500, fy, fy - b / 200), WHITE):
        channels.append(white * torch.where(f > _EPS, f.clamp(min=_EPS) ** 3, 3 * _EPS**2 * (f - 4 / 29)))
    xyz = torch.cat(channels, dim=1)
    matrix = torch.tensor(XYZ_TO_RGB, dtype=lab.dtype, device=lab.device)
    rgb = torch.einsum("ij,bjhw->bihw", matrix, xyz)
    return linear_to_srgb(rgb.clamp(0, 1)).clamp(0, 1)


class LabColorization(TaskComposite):
    """Grey in [-1, 1] -> RGB in [-1, 1], ``net`` predicting Lab's ab (2 channels, tanh) from it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ab = self.net(x)
        with torch.autocast(x.device.type, enabled=False):  # the colour conversion in fp32 under bf16 autocast
            l = lightness((x[:, :1].float() + 1) / 2)
            rgb = lab_to_rgb(torch.cat([l, ab.float() * AB_RANGE], dim=1))
        return (rgb * 2 - 1).to(ab.dtype)
