"""Colorization in Lab: the generator predicts only the ab channels, the L channel is the input's.

The research repository's colorization mode predicts Lab's ab from L. Here the
conversion back to RGB is a differentiable layer inside the generator
(``LabColorization``), so the model still takes the grey image and returns RGB:
the loss, D, the scores, saved images, export and serving see RGB as for every
other task, and the output's lightness is the input's exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .generators import TaskComposite

# D65 white point and the sRGB primaries (IEC 61966-2-1), as scikit-image's rgb2lab / lab2rgb.
WHITE = (0.95047, 1.0, 1.08883)
XYZ_TO_RGB = ((3.2404542, -1.5371385, -0.4985314), (-0.9692660, 1.8760108, 0.0415560), (0.0556434, -0.2040259, 1.0572252))
RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
AB_RANGE = 110.0  # tanh's (-1, 1) -> ab in (-110, 110), which holds the sRGB gamut
_EPS = 6.0 / 29.0


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    return torch.where(c <= 0.04045, c / 12.92, ((c.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: torch.Tensor) -> torch.Tensor:
    # clamp inside the power: its gradient is infinite at 0
    return torch.where(c <= 0.0031308, 12.92 * c, 1.055 * c.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    """CIE Lab's f: a cube root, linear near 0."""
    return torch.where(t > _EPS**3, t.clamp(min=_EPS**3) ** (1 / 3), t / (3 * _EPS**2) + 4 / 29)


def lightness(grey: torch.Tensor) -> torch.Tensor:
    """Lab L (0-100) of a grey image in [0, 1] (its value taken as gamma-encoded luminance)."""
    return 116 * _lab_f(srgb_to_linear(grey)) - 16


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


def with_input_lightness(x: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """RGB in [-1, 1] (fp32) of the grey input ``x`` (in [-1, 1]) coloured by ``ab`` (Lab units).

    Computed in fp32 under any autocast: the colour conversion's powers lose too much in bf16."""
    with torch.autocast(x.device.type, enabled=False):
        l = lightness((x[:, :1].float() + 1) / 2)
        return lab_to_rgb(torch.cat([l, ab.float()], dim=1)) * 2 - 1


class LabColorization(TaskComposite):
    """Grey in [-1, 1] -> RGB in [-1, 1], ``net`` predicting Lab's ab (2 channels, tanh) from it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ab = self.net(x)
        return with_input_lightness(x, ab.float() * AB_RANGE).to(ab.dtype)


# ab classification (Zhang, Isola & Efros, "Colorful Image Colorization", 2016), per channel.
AB_BINS = torch.arange(-110.0, 110.1, 10.0)  # bin centres for a and for b (23 each), the range AB_RANGE holds
BIN_SIGMA = 5.0  # soft encoding: a Gaussian of this width (Lab units) over the bins, as the paper's
LOGIT_RANGE = 8.0  # logits = 8 tanh(net): the generators end in tanh; e^16 between bins is decisive enough


class BinnedColorization(TaskComposite):
    """Grey in [-1, 1] -> RGB in [-1, 1], ``net`` predicting a distribution over bins of a and of b.

    Regression on ab (L1 or L2) predicts the conditional median or mean, which for an ambiguous
    colour is a desaturated compromise: measured on facades, the L1 model's outputs have half the
    targets' colourfulness. Predicting a distribution and decoding it with the *annealed mean*
    (softmax(log p / T), then the mean: T = 1 the mean, T -> 0 the mode) commits to a colour where
    the model is confident. ``rebalance`` (0-1) weighs each pixel's cross-entropy by
    1 / (rebalance * p(colour) + (1 - rebalance) / bins), p the training colours' frequencies (0 = plain
    cross-entropy, 1 = inverse frequency; the paper's lambda = 1 - rebalance), so that the common
    greys do not drown the rare colours. a and b are predicted as two 23-bin distributions rather
    than the paper's joint 313 bins: 46 output channels instead of 313 (the full-resolution output
    convolution would cost about twice the rest of a 128 px U-Net).

    ``prior`` is the running histogram of the training targets' bins (a buffer, like batch norm's
    statistics: checkpointed, so a resumed run weighs exactly as the uninterrupted one).
    """

    scores_itself = True

    def __init__(self, net: nn.Module, temperature: float, rebalance: float) -> None:
        super().__init__(net)
        self.temperature, self.rebalance = temperature, rebalance
        self.register_buffer("bins", AB_BINS.clone())
        bins = len(AB_BINS)
        self.register_buffer("prior", torch.full((2, bins), 1.0 / bins))
        self.register_buffer("seen", torch.zeros((), dtype=torch.float64))

    @staticmethod
    def channels() -> int:
        return 2 * len(AB_BINS)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, bins, H, W) logits of a and b."""
        out = self.net(x).float() * LOGIT_RANGE
        return out.unflatten(1, (2, len(AB_BINS)))

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Annealed mean: (B, 2, bins, H, W) logits -> (B, 2, H, W) ab in Lab units."""
        prob = torch.softmax(logits / self.temperature, dim=2)
        return torch.einsum("bcqhw,q->bchw", prob, self.bins)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> Any:
        """RGB; with ``target`` (RGB, training) also the class-rebalanced cross-entropy."""
        logits = self.logits(x)
        with torch.autocast(x.device.type, enabled=False):  # decoding and the loss in fp32 too
            rgb = with_input_lightness(x, self.decode(logits)).to(x.dtype)
            if target is None:
                return rgb
            return rgb, self.cross_entropy(logits, rgb_to_ab((target.float() + 1) / 2))

    def cross_entropy(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        soft = torch.softmax(-((ab.unsqueeze(2) - self.bins.view(1, 1, -1, 1, 1)) ** 2) / (2 * BIN_SIGMA**2), dim=2)
        if self.training:
            self._count(soft.detach())
        ce = -(soft * torch.log_softmax(logits, dim=2)).sum(2)  # (B, 2, H, W)
        if self.rebalance > 0:
            weights = 1.0 / (self.rebalance * self.prior + (1 - self.rebalance) / self.prior.shape[1])
            weights = weights / (self.prior * weights).sum(1, keepdim=True)  # the mean weight over the data is 1
            ce = ce * torch.einsum("bcqhw,cq->bchw", soft, weights)
        return ce.mean()

    @torch.no_grad()
    def _count(self, soft: torch.Tensor) -> None:
        pixels = soft.shape[0] * soft.shape[-1] * soft.shape[-2]
        share = (pixels / (self.seen + pixels)).to(self.prior.dtype)  # a tensor: no host sync, no recompiles
        self.prior.lerp_(soft.mean(dim=(0, 3, 4)), share)
        self.seen += pixels


def rgb_to_ab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> (B, 2, H, W) Lab ab (D65), as scikit-image's rgb2lab."""
    matrix = torch.tensor(RGB_TO_XYZ, dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,bjhw->bihw", matrix, srgb_to_linear(rgb.clamp(0, 1)))
    fx, fy, fz = (_lab_f(xyz[:, i:i + 1] / white) for i, white in enumerate(WHITE))
    return torch.cat([500 * (fx - fy), 200 * (fy - fz)], dim=1)
