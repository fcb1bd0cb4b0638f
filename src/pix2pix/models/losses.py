"""GAN objectives on raw discriminator outputs, their penalties, and the generator's other terms.

Modes: ``vanilla`` (BCE with logits, the pix2pix paper), ``lsgan`` (least
squares, Mao et al.; CycleGAN's choice), ``hinge`` (Lim & Ye; Miyato et al.) and
``wgangp`` (Gulrajani et al.). ``d_loss`` is one side's term for D, ``g_loss``
the generator's adversarial term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError

GAN_MODES = ("vanilla", "lsgan", "hinge", "wgangp")


def _check(mode: str) -> None:
    if mode not in GAN_MODES:
        raise ConfigError(f"loss.gan_mode: unknown mode '{mode}' (valid: {', '.join(GAN_MODES)})")


def d_loss(mode: str, scores: torch.Tensor, real: bool) -> torch.Tensor:
    """D's loss on a batch of its scores for real (``real=True``) or generated images."""
    _check(mode)
    scores = scores.float()
    if mode == "vanilla":
        target = torch.ones_like(scores) if real else torch.zeros_like(scores)
        return F.binary_cross_entropy_with_logits(scores, target)
    if mode == "lsgan":
        return ((scores - 1.0) ** 2).mean() if real else (scores**2).mean()
    if mode == "hinge":
        return F.relu(1.0 - scores).mean() if real else F.relu(1.0 + scores).mean()
    return -scores.mean() if real else scores.mean()


def g_loss(mode: str, scores: torch.Tensor) -> torch.Tensor:
    """G's adversarial loss on D's scores for generated images (G wants them judged real)."""
    _check(mode)
    scores = scores.float()
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))
    if mode == "lsgan":
        return ((scores - 1.0) ** 2).mean()
    return -scores.mean()  # hinge and wgangp


def gradient_penalty(
    discriminator: torch.nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    condition: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """E[(||grad D(x_hat)|| - 1)^2] on random interpolates of real and fake (per sample).

    ``condition`` (pix2pix's input image) is concatenated unchanged: only the
    judged image is interpolated.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, generator=generator)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed if condition is None else torch.cat([condition, mixed], dim=1))
    total = sum(s.float().sum() for s in (scores if isinstance(scores, list) else [scores]))  # every scale's scores
    (grad,) = torch.autograd.grad(total, mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


def d_probability_view(mode: str, scores: torch.Tensor) -> torch.Tensor:
    """D's scores as the monitor reads them: probabilities for vanilla, raw otherwise."""
    return torch.sigmoid(scores.float()) if mode == "vanilla" else scores.float()


def d_loss_scales(mode: str, scales: list[list[torch.Tensor]], real: bool) -> torch.Tensor:
    """``d_loss`` averaged over a (multi-scale) discriminator's scales (each scale's last tensor: scores)."""
    return sum(d_loss(mode, scale[-1], real) for scale in scales) / len(scales)


def g_loss_scales(mode: str, scales: list[list[torch.Tensor]]) -> torch.Tensor:
    """``g_loss`` averaged over the discriminator's scales."""
    return sum(g_loss(mode, scale[-1]) for scale in scales) / len(scales)


def feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """pix2pixHD's discriminator feature-matching loss: L1 between D's block activations on the
    generated and the real pair, averaged over blocks and scales (the real side is a fixed target)."""
    total = fake[0][0].new_zeros((), dtype=torch.float32)
    for fake_scale, real_scale in zip(fake, real):
        blocks = list(zip(fake_scale[:-1], real_scale[:-1]))
        for f, r in blocks:
            total = total + F.l1_loss(f.float(), r.detach().float()) / (len(blocks) * len(fake))
    return total


def r1_penalty(discriminator: torch.nn.Module, real: torch.Tensor, condition: torch.Tensor | None = None,
               transform=None) -> torch.Tensor:  # noqa: ANN001 - transform: tensor -> tensor
    """R1 (Mescheder et al., 2018): E[||grad_x D(x)||^2] on real images x; pix2pix's condition is
    concatenated unchanged, only the judged image is differentiated. ``transform`` (D's augmentation)
    is applied to the pair first, as D sees it."""
    x = real.detach().requires_grad_(True)
    pair = x if condition is None else torch.cat([condition, x], dim=1)
    if transform is not None:
        pair = transform(pair)
    scores = discriminator(pair)
    total = sum(s.float().sum() for s in (scores if isinstance(scores, list) else [scores]))
    (grad,) = torch.autograd.grad(total, x, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def patch_nce(query: torch.Tensor, key: torch.Tensor, batch: int, tau: float = 0.07) -> torch.Tensor:
    """PatchNCE (Park et al., 2020): each output patch's projection ``query`` should match the input
    patch at the same place (``key``, a fixed target) against the other patches of the same image.

    ``query`` and ``key`` are (B * P, D), L2-normalised, P patches per image. Cross-entropy over
    [positive, P - 1 negatives] with temperature ``tau``; the image's own patch is masked out of
    the negatives (the research code's -10 before dividing by tau).
    """
    key = key.detach()
    positives = (query * key).sum(dim=1, keepdim=True)  # (B*P, 1)
    q, k = query.view(batch, -1, query.shape[1]), key.view(batch, -1, key.shape[1])
    patches = q.shape[1]
    negatives = torch.bmm(q, k.transpose(1, 2))  # (B, P, P)
    diagonal = torch.eye(patches, dtype=torch.bool, device=query.device)[None]
    negatives = negatives.masked_fill(diagonal, -10.0).view(-1, patches)
    logits = torch.cat([positives, negatives], dim=1) / tau
    return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long, device=query.device))


def fourier_amplitude(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the amplitude spectra of output and target, per channel (Fuoli et al., 2021).

    Why: L1 in pixel space rewards the average of the plausible outputs, which is blurred;
    amplitudes carry no phase, so an output may put texture at a frequency without placing it
    exactly where the target's is. Orthonormal FFT, so a unit of this loss weighs about what a unit
    of pixel L1 does. Computed in fp32 (half-precision FFTs need power-of-two sizes).
    """
    fa = torch.fft.rfft2(fake.float(), norm="ortho").abs()
    ra = torch.fft.rfft2(real.float(), norm="ortho").abs()
    return F.l1_loss(fa, ra)


SPECTRUM_TILE = 32  # px: periods 2-32 are judged locally; coarser structure is left to the pixel loss
# 8-bit rounding noise's power per frequency in a Hann-windowed tile ((2/255)^2 / 12 x 0.375^2, in [-1, 1]
# units): detail below it cannot show in a saved image, and it keeps the log's gradient finite on flat tiles.
SPECTRUM_FLOOR = 1e-6


def tile_power(images: torch.Tensor, tile: int = SPECTRUM_TILE) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, t, t // 2 + 1): power spectra of the channel mean, cut into tiles of side
    t = min(tile, H, W) that overlap by half (so their Hann windows weigh every pixel alike), each tile's
    mean removed. fp32.

    The channel mean, not a luminance weighting: G's gradient then asks for grey detail, where
    Rec. 601 weights asked mostly the green channel and drew green and purple lines (measured)."""
    x = images.float().mean(dim=1)
    t = min(tile, x.shape[-2], x.shape[-1])
    step = max(t // 2, 1)
    tiles = x.unfold(1, t, step).unfold(2, t, step).flatten(1, 2)
    tiles = tiles - tiles.mean(dim=(-2, -1), keepdim=True)
    window = torch.outer(torch.hann_window(t, device=x.device), torch.hann_window(t, device=x.device))
    return torch.fft.rfft2(tiles * window, norm="ortho").abs().pow(2)


def local_log_spectrum(fake: torch.Tensor, real: torch.Tensor, tile: int = SPECTRUM_TILE) -> torch.Tensor:
    """Mean L1 between the log power spectra of output and target, frequency by frequency and tile
    by tile (after Durall et al., 2020, who match the whole image's radially averaged spectrum).

    Why: generators trained with pixel L1 fall short of the photos' power at the high frequencies
    (blur) or put spikes there (checkerboard); in logs every band counts alike, so the finest, where
    photos hold little power, count as much as the coarse ones. Power ignores phase, so detail may
    sit a few pixels off the target's. Per tile: a whole-image spectrum (measured) let G put the
    missing power in one stripe down the middle. Per frequency, not per ring of equal radius:
    ring averages (measured) let G fill a ring with a 4 px grid, one strong frequency.
    """
    fake_log = torch.log(tile_power(fake, tile) + SPECTRUM_FLOOR)
    return F.l1_loss(fake_log, torch.log(tile_power(real, tile) + SPECTRUM_FLOOR))
