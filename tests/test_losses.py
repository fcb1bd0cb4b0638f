"""GAN losses on known tensors: values written from the formulas, not from the code."""

import math

import pytest
import torch
from torch import nn

from pix2pix.errors import ConfigError
from pix2pix.models.losses import d_loss, fourier_amplitude, g_loss, gradient_penalty, local_log_spectrum


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


def test_local_log_spectrum_asks_for_fine_detail_where_the_target_has_it_but_not_at_its_exact_pixels():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    nudged = torch.roll(x, shifts=(2, 3), dims=(2, 3))  # the same detail, a few pixels off
    # the photo's total detail, all of it in one stripe: what a whole-image spectrum let G draw
    stripe = blurred.clone()
    stripe[..., 24:40] += 2 * (x - blurred)[..., 24:40]
    # the detail's power as a 4 px grid: one frequency, what a ring-averaged spectrum let G draw
    grid = blurred + 0.6 * torch.cos(torch.arange(64) * torch.pi / 2)[None, None, None, :]
    loss = {name: float(local_log_spectrum(y, x)) for name, y in
            (("same", x), ("nudged", nudged), ("blurred", blurred), ("stripe", stripe), ("grid", grid))}
    assert loss["same"] == 0.0
    assert loss["nudged"] < 1.2 < 2 * loss["nudged"] < loss["blurred"]
    assert loss["stripe"] > 1.5 * loss["nudged"] and loss["grid"] > 1.5 * loss["nudged"]
    assert float(torch.nn.functional.l1_loss(nudged, x)) > float(torch.nn.functional.l1_loss(blurred, x))
