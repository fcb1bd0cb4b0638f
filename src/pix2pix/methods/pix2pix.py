"""pix2pix (Isola et al., 2017): conditional GAN + L1 on paired images.

G: input -> output. D judges (input, output) pairs patch by patch. The objective
is  min_G max_D  L_cGAN(G, D) + lambda * L1(G),  with D's loss halved (the
paper: "we divide the objective by 2 while optimizing D").

Optional terms from later work, each off unless configured: differentiable
augmentation of every pair D sees (DiffAugment), a multi-scale D with
feature matching (pix2pixHD), an R1 penalty on real pairs, a VGG perceptual
loss, and an exponential moving average of G's weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, Section, check
from ..errors import ConfigError
from ..models import init_weights, pad_to_multiple, run_padded, size_multiple, unwrap
from ..models.augment import AdaptiveAugment, diff_augment, parse_policy
from ..models.discriminators import judge
from ..models.losses import (d_loss_scales, feature_matching, fourier_amplitude, g_loss_scales, gradient_penalty,
                             local_log_spectrum, r1_penalty)
from .base import (HealthSignals, Networks, StepRuntime, averages_for, build_adam, discriminator_from_config, fingerprints,
                   d_views, generator_from_config, model_inputs, Sampling)
from .registry import register_method


@dataclass
class Pix2PixOptions(Section):
    """[pix2pix]: the keys only the paired method reads; every default is the paper's."""

    # The L1 weight falls from loss.lambda_l1 to this along a cosine over the first lambda_l1_decay_steps
    # steps, then stays: L1 lays out the picture early, after which a smaller share lets the adversarial
    # term leave the average of the plausible outputs. Negative = no decay (the paper).
    lambda_l1_final: float = -1.0
    lambda_l1_decay_steps: int = 2000

    def __post_init__(self) -> None:
        check(math.isfinite(self.lambda_l1_final), "pix2pix.lambda_l1_final", "must be a finite number (negative = no decay)")
        check(self.lambda_l1_decay_steps >= 1, "pix2pix.lambda_l1_decay_steps", "must be >= 1")


@dataclass(frozen=True)
class Pix2PixTerms:
    """The loss terms of one step and their weights (from ``config.loss``, ``config.train`` and [pix2pix])."""

    gan_mode: str
    lambda_l1: float
    lambda_gan: float = 1.0  # 0: no adversarial term, D neither trained nor consulted
    lambda_gp: float = 10.0
    lambda_fm: float = 0.0
    lambda_r1: float = 0.0
    r1_every: int = 1
    lambda_vgg: float = 0.0
    lambda_fft: float = 0.0
    lambda_spectrum: float = 0.0
    augment: tuple[str, ...] = ()
    lambda_l1_final: float = -1.0  # negative: lambda_l1 throughout
    lambda_l1_decay_steps: int = 1

    @classmethod
    def from_config(cls, cfg: Config) -> "Pix2PixTerms":
        loss = cfg.loss
        return cls(loss.gan_mode, loss.lambda_l1, loss.lambda_gan, loss.lambda_gp, loss.lambda_fm, loss.lambda_r1, loss.r1_every,
                   loss.lambda_vgg, loss.lambda_fft, loss.lambda_spectrum, parse_policy(cfg.train.d_augment),
                   cfg.options.lambda_l1_final, cfg.options.lambda_l1_decay_steps)

    def l1_weight(self, step: int) -> float:
        """The L1 weight at ``step``: lambda_l1, falling along a cosine to lambda_l1_final when that is set."""
        if self.lambda_l1_final < 0:
            return self.lambda_l1
        progress = min(step / self.lambda_l1_decay_steps, 1.0)
        return self.lambda_l1_final + (self.lambda_l1 - self.lambda_l1_final) * 0.5 * (1 + math.cos(math.pi * progress))


def pix2pix_step(
    G: nn.Module,
    D: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    *,
    terms: Pix2PixTerms,
    runtime: StepRuntime,
    augment_p: float = 1.0,
    r1_now: bool = False,
    vgg: nn.Module | None = None,
    step: int = 0,
) -> dict[str, torch.Tensor]:
    """One optimisation step of D then G on a batch of (input, target) images in [-1, 1].

    Returns detached losses and D's mean outputs on real and generated pairs (D's only when
    ``terms.lambda_gan`` > 0: at 0, D is neither trained nor consulted).
    """
    mode = terms.gan_mode
    split = (real_a.shape[1], real_b.shape[1])

    def seen_by_d(pair: torch.Tensor) -> torch.Tensor:  # the same random transform for both halves of a pair
        return diff_augment(pair, terms.augment, split, augment_p) if terms.augment else pair

    with runtime.autocast():
        fake_b, own_loss = _generate(G, real_a, real_b)  # (B, C_out, H, W)

    losses: dict[str, torch.Tensor] = {}
    adversarial = terms.lambda_gan > 0
    if adversarial:
        losses.update(_update_d(D, opt_D, real_a, real_b, fake_b, terms, runtime, seen_by_d, r1_now))

    # update G: fool D (when it is used) and stay close to the target (L1)
    D.requires_grad_(False)
    opt_G.zero_grad(set_to_none=True)
    loss_g_l1 = (own_loss if own_loss is not None else F.l1_loss(fake_b.float(), real_b.float())) * terms.l1_weight(step)
    loss_g = loss_g_l1
    if adversarial:
        with runtime.autocast():  # plain D: its parameters get no gradient here, so no DDP sync
            fake_pair = seen_by_d(torch.cat([real_a, fake_b], dim=1))
            pred_fake_for_g = judge(unwrap(D), fake_pair, features=terms.lambda_fm > 0)
        loss_g_gan = g_loss_scales(mode, pred_fake_for_g) * terms.lambda_gan
        loss_g = loss_g + loss_g_gan
        losses["loss_G_GAN"] = loss_g_gan.detach()
    if terms.lambda_fm > 0:
        with runtime.autocast(), torch.no_grad():  # the real pair's activations are a fixed target
            real_features = judge(unwrap(D), seen_by_d(torch.cat([real_a, real_b], dim=1)), features=True)
        loss_fm = feature_matching(pred_fake_for_g, real_features) * terms.lambda_fm
        loss_g = loss_g + loss_fm
        losses["loss_G_FM"] = loss_fm.detach()
    if vgg is not None and terms.lambda_vgg > 0:
        loss_vgg = vgg(fake_b, real_b) * terms.lambda_vgg
        loss_g = loss_g + loss_vgg
        losses["loss_G_VGG"] = loss_vgg.detach()
    if terms.lambda_fft > 0:
        loss_fft = fourier_amplitude(fake_b, real_b) * terms.lambda_fft
        loss_g = loss_g + loss_fft
        losses["loss_G_FFT"] = loss_fft.detach()
    if terms.lambda_spectrum > 0:
        loss_spectrum = local_log_spectrum(fake_b, real_b) * terms.lambda_spectrum
        loss_g = loss_g + loss_spectrum
        losses["loss_G_spectrum"] = loss_spectrum.detach()
    runtime.step(loss_g, opt_G)
    D.requires_grad_(True)

    losses.update(loss_G=loss_g.detach(), loss_G_L1=loss_g_l1.detach())
    losses.update(fingerprints(fake_b, real_b))
    return losses


def _generate(G: nn.Module, real_a: torch.Tensor, real_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """G's output for any size, and its own reconstruction loss where it scores itself (colour classes)."""
    multiple = size_multiple(G)
    if not getattr(unwrap(G), "scores_itself", False):
        return run_padded(G, real_a, multiple), None
    height, width = real_a.shape[-2:]
    fake_b, loss = G(pad_to_multiple(real_a, multiple), pad_to_multiple(real_b, multiple))
    return fake_b[..., :height, :width], loss


def _update_d(D: nn.Module, opt_D: torch.optim.Optimizer, real_a: torch.Tensor, real_b: torch.Tensor,
              fake_b: torch.Tensor, terms: Pix2PixTerms, runtime: StepRuntime,
              seen_by_d: Callable[[torch.Tensor], torch.Tensor], r1_now: bool) -> dict[str, torch.Tensor]:
    """D's step: real pairs should score real, generated pairs fake. Returns its losses and views."""
    mode = terms.gan_mode
    D.requires_grad_(True)
    opt_D.zero_grad(set_to_none=True)
    with runtime.autocast():
        pred_fake = judge(D, seen_by_d(torch.cat([real_a, fake_b.detach()], dim=1)))
        pred_real = judge(D, seen_by_d(torch.cat([real_a, real_b], dim=1)))
    loss_d_fake = d_loss_scales(mode, pred_fake, real=False)
    loss_d_real = d_loss_scales(mode, pred_real, real=True)
    loss_d = 0.5 * (loss_d_fake + loss_d_real)
    losses: dict[str, torch.Tensor] = {}
    if mode == "wgangp":
        with runtime.autocast():  # double backward: through the plain D (DDP does not support it)
            penalty = gradient_penalty(unwrap(D), real_b, fake_b, condition=real_a)
        loss_d = loss_d + terms.lambda_gp * penalty
        losses["loss_D_gp"] = penalty.detach()
    if terms.lambda_r1 > 0 and r1_now:
        with runtime.autocast():
            r1 = r1_penalty(unwrap(D), real_b, condition=real_a, transform=seen_by_d)
        loss_d = loss_d + 0.5 * terms.lambda_r1 * terms.r1_every * r1  # lazy: every r1_every steps, scaled up
        losses["loss_D_r1"] = r1.detach()
    runtime.step(loss_d, opt_D)

    losses.update(loss_D=loss_d.detach(), loss_D_real=loss_d_real.detach(), loss_D_fake=loss_d_fake.detach())
    losses.update(d_views(mode, pred_real[0][-1], pred_fake[0][-1]))
    threshold = 0.5 if mode == "lsgan" else 0.0  # where D's output says "undecided"
    losses["D_real_sign"] = torch.sign(pred_real[0][-1].detach().float() - threshold).mean()  # ADA's overfitting signal
    return losses


def _refuse_d_terms_without_d(cfg: Config) -> None:
    """loss.lambda_gan = 0 leaves D out of training: the options that act through D have nothing to act on."""
    if cfg.loss.lambda_gan > 0:
        return
    for key, on in (("train.d_augment", cfg.train.d_augment != "none"), ("loss.lambda_fm", cfg.loss.lambda_fm > 0),
                    ("loss.lambda_r1", cfg.loss.lambda_r1 > 0)):
        if on:
            raise ConfigError(f"{key} acts through the discriminator, which loss.lambda_gan=0 leaves out of training")
    if not any(getattr(cfg.loss, name) for name in _TERMS_WITHOUT_D):
        raise ConfigError(f"loss.lambda_gan=0 with loss.{', '.join(_TERMS_WITHOUT_D[:-1])} and {_TERMS_WITHOUT_D[-1]} "
                          "all 0: no loss term is left for G to learn from")


# G's terms that compare the output with the target directly, without D; one list for the check and its message
_TERMS_WITHOUT_D = ("lambda_l1", "lambda_vgg", "lambda_fft", "lambda_spectrum")


@register_method
class Pix2Pix(Networks):
    """Owns G (U-Net by default), D (PatchGAN on input+output channels), their Adams, and G's
    weight average and D's adaptive augmentation when those are on."""

    name = "pix2pix"
    options = Pix2PixOptions
    data_kind = "paired"
    paper_defaults = {"model.generator": "unet", "model.norm": "batch", "model.dropout": 0.5, "loss.gan_mode": "vanilla",
                      "model.upsample": "transposed", "train.ema_decay": 0.0, "model.input_skip": 0}  # Isola et al., 2017
    # The best recipe measured on held-out data (benchmarks/results/recipe.md): resize-convolutions
    # with sub-pixel outer layers, a weight average and the least-squares GAN loss on top of the paper's.
    defaults = {**paper_defaults, "model.upsample": "pixel_shuffle_outer", "train.ema_decay": 0.999,
                "loss.gan_mode": "lsgan"}
    generator_keys = {"AtoB": "G"}
    health_signals = (HealthSignals("", "D_real", "D_fake", "loss_D", "loss_G_GAN", "loss_G_L1"),)
    test_columns = ("input", "output", "target")
    round_trip = False
    progress_keys = {"loss_D": "D", "loss_G_GAN": "G", "loss_G_L1": "L1"}
    research_generators = ("unet_128", "unet_256")
    sampling = Sampling("dropout")  # the paper's only noise: a seed per sample, in per_image mode

    def __init__(self, cfg: Config, channels: tuple[int, int], device: torch.device) -> None:
        _refuse_d_terms_without_d(cfg)  # before any network is built
        self.cfg, self.channels, self.device = cfg, channels, device
        in_ch, out_ch = channels
        self.nets = {"G": generator_from_config(cfg, in_ch, out_ch),
                     "D": discriminator_from_config(cfg, in_ch + out_ch)}  # D sees concat(input, output)
        for net in self.nets.values():
            init_weights(net, cfg.model.init, cfg.model.init_gain)
            net.to(device)
        t = cfg.train
        self.opts = {"G": build_adam(self.nets["G"].parameters(), t.lr_g, t.beta1, t.beta2, device),
                     "D": build_adam(self.nets["D"].parameters(), t.lr_d, t.beta1, t.beta2, device)}
        self.averages = averages_for(self.nets, ("G",), t.ema_decay)
        self.terms = Pix2PixTerms.from_config(cfg)
        self.adaptive = (AdaptiveAugment(t.d_augment_target, ramp_images=5000, p=t.d_augment_p)
                         if self.terms.augment and t.d_augment_adaptive else None)
        self.vgg = None
        if cfg.loss.lambda_vgg > 0:
            from ..models.perceptual import load_vgg_loss

            self.vgg = load_vgg_loss(cfg.loss.vgg_weights, device)
        self.steps = 0

    def train_step(self, batch: dict[str, torch.Tensor], runtime: StepRuntime) -> dict[str, torch.Tensor]:
        real_a, real_b = model_inputs(batch, ("input", "target"), self.device, runtime)
        p = self.adaptive.p if self.adaptive is not None else self.cfg.train.d_augment_p
        losses = pix2pix_step(
            self.nets["G"], self.nets["D"], self.opts["G"], self.opts["D"], real_a, real_b, terms=self.terms,
            runtime=runtime, augment_p=p, r1_now=self.steps % self.terms.r1_every == 0, vgg=self.vgg, step=self.steps,
        )
        self.steps += 1
        self.update_averages()
        if self.adaptive is not None:
            self.adaptive.update(float(losses["D_real_sign"]), real_a.shape[0])
            losses["augment_p"] = torch.tensor(self.adaptive.p)
        return losses

    def extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"steps": self.steps, "ema_updates": self.averages_state()}
        if self.adaptive is not None:
            state["adaptive_augment"] = self.adaptive.state_dict()
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.steps = int(state.get("steps", 0))
        self.load_averages_state(state.get("ema_updates", {}))
        if self.adaptive is not None and "adaptive_augment" in state:
            self.adaptive.load_state_dict(state["adaptive_augment"])
