"""GAN losses on known tensors: values written from the formulas, not from the code."""

import math

import pytest
import torch
from torch import nn

from pix2pix.errors import ConfigError
from pix2pix.models.losses import d_loss, fourier_amplitude, g_loss, gradient_penalty, radial_power_profile, spectrum_profile


def test_vanilla_is_bce_with_logits():
    zero = torch.zeros(2, 1, 3, 3)
    assert d_loss("vanilla", zero, real=True).item() == pytest.approx(math.log(2))
    assert d_loss("vanilla", zero, real=False).item() == pytest.approx(math.log(2))
    big = torch.full((1, 1, 2, 2), 3.0)
    assert d_loss("vanilla", big, real=True).item() == pytest.approx(math.log(1 + math.exp(-3)))
    assert g_loss("vanilla", big).item() == pytest.approx(math.log(1 + math.exp(-3)))
    assert d_loss("vanilla", big, real=False).item() == pytest.approx(math.log(1 + math.exp(3)))


def test_lsgan_least_squares():
    scores = torch.tensor([0.0, 2.0])
    assert d_loss("lsgan", scores, real=True).item() == pytest.approx(1.0)  # ((0-1)^2 + (2-1)^2) / 2
    assert d_loss("lsgan", scores, real=False).item() == pytest.approx(2.0)  # (0 + 4) / 2
    assert g_loss("lsgan", torch.tensor([0.5])).item() == pytest.approx(0.25)


def test_hinge():
    assert d_loss("hinge", torch.tensor([0.5, 2.0]), real=True).item() == pytest.approx(0.25)
    assert d_loss("hinge", torch.tensor([-2.0, 0.5]), real=False).item() == pytest.approx(0.75)
    assert g_loss("hinge", torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_wasserstein():
    scores = torch.tensor([1.0, 3.0])
    assert d_loss("wgangp", scores, real=True).item() == pytest.approx(-2.0)
    assert d_loss("wgangp", scores, real=False).item() == pytest.approx(2.0)
    assert g_loss("wgangp", scores).item() == pytest.approx(-2.0)


def test_gradient_penalty_of_a_linear_critic():
    """D(x) = sum over pixels of w . x  ->  grad = w at every pixel, |grad| = |w| * sqrt(H*W)."""
    critic = nn.Conv2d(3, 1, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([0.1, 0.2, 0.2]).view(1, 3, 1, 1))
    real, fake = torch.randn(4, 3, 5, 5), torch.randn(4, 3, 5, 5)
    expected = (0.3 * 5 - 1.0) ** 2  # |w| = 0.3
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(expected, rel=1e-5)
    cond_critic = nn.Conv2d(5, 1, 1, bias=False)
    with torch.no_grad():
        cond_critic.weight.zero_()
        cond_critic.weight[0, 2:] = torch.tensor([0.1, 0.2, 0.2]).view(3, 1, 1)
    cond = torch.randn(4, 2, 5, 5)
    assert gradient_penalty(cond_critic, real, fake, condition=cond).item() == pytest.approx(expected, rel=1e-5)


def test_unknown_mode():
    with pytest.raises(ConfigError, match="valid: vanilla, lsgan, hinge, wgangp"):
        d_loss("nsgan", torch.zeros(1), real=True)


def test_fourier_amplitude_ignores_where_detail_sits_but_not_blur():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    shifted = torch.roll(x, shifts=(3, 5), dims=(2, 3))  # the same texture, elsewhere: amplitudes unchanged
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    assert float(fourier_amplitude(x, x)) == 0.0
    assert float(fourier_amplitude(shifted, x)) < 1e-5 < float(torch.nn.functional.l1_loss(shifted, x))
    assert float(fourier_amplitude(blurred, x)) > 0.1


def test_spectrum_profile_asks_for_fine_detail_where_the_target_has_it_but_not_at_its_exact_pixels():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    nudged = torch.roll(x, shifts=(2, 3), dims=(2, 3))  # the same detail, a few pixels off
    # the photo's total detail, all of it in one stripe: what a whole-image profile let G draw
    stripe = blurred.clone()
    stripe[..., 24:40] += 2 * (x - blurred)[..., 24:40]
    assert float(spectrum_profile(x, x)) == 0.0
    assert float(spectrum_profile(nudged, x)) < 0.3 < 0.6 < float(torch.nn.functional.l1_loss(nudged, x))
    assert float(spectrum_profile(blurred, x)) > 2.0
    assert float(spectrum_profile(stripe, x)) > 1.0
    # the blur's deficit is at the high frequencies: the outer rings lose far more power than the inner ones
    ratio = radial_power_profile(blurred).mean(dim=(0, 1)) / radial_power_profile(x).mean(dim=(0, 1))
    assert radial_power_profile(x).shape == (2, 3, ratio.shape[0]) and ratio.shape[0] >= 32
    assert float(ratio[-4:].mean()) < 0.1 < 0.5 < float(ratio[:2].mean())
