"""pix2pix (Isola et al., 2017): conditional GAN + L1 on paired images.

G: input -> output. D judges (input, output) pairs patch by patch. The objective
is  min_G max_D  L_cGAN(G, D) + lambda * L1(G),  with D's loss halved (the
paper: "we divide the objective by 2 while optimizing D").
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from ..models import init_weights, run_padded, size_multiple, unwrap
from ..models.losses import d_loss, d_probability_view, g_loss, gradient_penalty
from .base import StepRuntime, build_adam, discriminator_from_config, fingerprints, generator_from_config, model_inputs


def pix2pix_step(
    G: nn.Module,
    D: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    *,
    gan_mode: str,
    lambda_l1: float,
    lambda_gp: float,
    runtime: StepRuntime,
) -> dict[str, torch.Tensor]:
    """One optimisation step of D then G on a batch of (input, target) images in [-1, 1].

    Returns detached losses and D's mean outputs on real and generated pairs.
    """
    with runtime.autocast():
        fake_b = run_padded(G, real_a, size_multiple(G))  # (B, C_out, H, W)

    # (1) update D: real pairs should score real, generated pairs fake
    D.requires_grad_(True)
    opt_D.zero_grad(set_to_none=True)
    with runtime.autocast():
        pred_fake = D(torch.cat([real_a, fake_b.detach()], dim=1))
        pred_real = D(torch.cat([real_a, real_b], dim=1))
    loss_d_fake = d_loss(gan_mode, pred_fake, real=False)
    loss_d_real = d_loss(gan_mode, pred_real, real=True)
    loss_d = 0.5 * (loss_d_fake + loss_d_real)
    losses: dict[str, torch.Tensor] = {}
    if gan_mode == "wgangp":
        with runtime.autocast():  # double backward: through the plain D (DDP does not support it)
            penalty = gradient_penalty(unwrap(D), real_b, fake_b, condition=real_a)
        loss_d = loss_d + lambda_gp * penalty
        losses["loss_D_gp"] = penalty.detach()
    runtime.step(loss_d, opt_D)

    # (2) update G: fool D and stay close to the target (L1)
    D.requires_grad_(False)
    opt_G.zero_grad(set_to_none=True)
    with runtime.autocast():  # plain D: its parameters get no gradient here, so no DDP sync
        pred_fake_for_g = unwrap(D)(torch.cat([real_a, fake_b], dim=1))
    loss_g_gan = g_loss(gan_mode, pred_fake_for_g)
    loss_g_l1 = F.l1_loss(fake_b.float(), real_b.float()) * lambda_l1
    loss_g = loss_g_gan + loss_g_l1
    runtime.step(loss_g, opt_G)
    D.requires_grad_(True)

    losses.update(
        loss_D=loss_d.detach(),
        loss_D_real=loss_d_real.detach(),
        loss_D_fake=loss_d_fake.detach(),
        loss_G=loss_g.detach(),
        loss_G_GAN=loss_g_gan.detach(),
        loss_G_L1=loss_g_l1.detach(),
        D_real=d_probability_view(gan_mode, pred_real.detach()).mean(),
        D_fake=d_probability_view(gan_mode, pred_fake.detach()).mean(),
    )
    losses.update(fingerprints(fake_b, real_b))
    return losses


class Pix2Pix:
    """Owns G (U-Net by default), D (PatchGAN on input+output channels) and their Adams."""

    name = "pix2pix"

    def __init__(self, cfg: Config, channels: tuple[int, int], device: torch.device) -> None:
        self.cfg = cfg
        in_ch, out_ch = channels
        self.channels = channels
        m = cfg.model
        self.G = generator_from_config(cfg, in_ch, out_ch)
        self.D = discriminator_from_config(cfg, in_ch + out_ch)  # D sees concat(input, output)
        for net in (self.G, self.D):
            init_weights(net, m.init, m.init_gain)
            net.to(device)
        t = cfg.train
        self.opt_G = build_adam(self.G.parameters(), t.lr_g, t.beta1, t.beta2, device)
        self.opt_D = build_adam(self.D.parameters(), t.lr_d, t.beta1, t.beta2, device)
        self.device = device

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def generator(self, direction: str = "AtoB") -> nn.Module:
        return self.G

    def wrap_networks(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Replace each network by ``wrap(network)`` (DDP, torch.compile); optimizers keep their parameters."""
        self.G, self.D = wrap(self.G), wrap(self.D)

    def train_step(self, batch: dict[str, torch.Tensor], runtime: StepRuntime) -> dict[str, torch.Tensor]:
        real_a, real_b = model_inputs(batch, ("input", "target"), self.device, runtime)
        loss = self.cfg.loss
        return pix2pix_step(
            self.G, self.D, self.opt_G, self.opt_D, real_a, real_b,
            gan_mode=loss.gan_mode, lambda_l1=loss.lambda_l1, lambda_gp=loss.lambda_gp, runtime=runtime,
        )

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass
