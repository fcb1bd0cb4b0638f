"""CycleGAN (Zhu et al., 2017): unpaired translation with cycle consistency.

G_A: A -> B and G_B: B -> A; D_A judges B-domain images (real B vs G_A(A)),
D_B judges A-domain images. The generators minimise the adversarial losses plus
lambda_A * |G_B(G_A(a)) - a| + lambda_B * |G_A(G_B(b)) - b| and, optionally, the
identity loss lambda_idt * (lambda_B * |G_A(b) - b| + lambda_A * |G_B(a) - a|).
D sees generated images through an image pool. As in the paper's code, G is
updated before D in each step, one Adam for both generators and one for both
discriminators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, Section, check, check_weights
from ..errors import ConfigError
from ..models import init_weights, run_padded, size_multiple, unwrap
from ..models.discriminators import judge
from ..models.losses import d_loss_scales, d_probability_view, g_loss_scales, gradient_penalty
from .base import (UNPAIRED_PAPERS_RECIPE, HealthSignals, Networks, StepRuntime, averages_for, build_adam, discriminator_from_config, fingerprints,
                   generator_from_config, model_inputs, refuse_paired_terms)
from .registry import register_method
from .image_pool import ImagePool


def _discriminator_loss(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_mode: str, lambda_gp: float,
                        runtime: StepRuntime) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Halved real + fake loss of one D (plus the gradient penalty for wgangp), and its raw scores."""
    with runtime.autocast():
        pred_real, pred_fake = judge(D, real), judge(D, fake.detach())
    loss = 0.5 * (d_loss_scales(gan_mode, pred_real, real=True) + d_loss_scales(gan_mode, pred_fake, real=False))
    if gan_mode == "wgangp":
        with runtime.autocast():  # double backward: through the plain D (DDP does not support it)
            loss = loss + lambda_gp * gradient_penalty(unwrap(D), real, fake)
    return loss, pred_real[0][-1].detach(), pred_fake[0][-1].detach()


def cyclegan_step(
    nets: dict[str, nn.Module],
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    pools: dict[str, ImagePool],
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    *,
    gan_mode: str,
    lambda_a: float,
    lambda_b: float,
    lambda_identity: float,
    lambda_gp: float,
    runtime: StepRuntime,
) -> dict[str, torch.Tensor]:
    """One step: (1) update both generators, (2) update both discriminators."""
    G_A, G_B, D_A, D_B = nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]

    def gen(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return run_padded(net, x, size_multiple(net))

    # (1) update G_A and G_B: fool both D, reconstruct each input through the cycle
    D_A.requires_grad_(False)
    D_B.requires_grad_(False)
    opt_G.zero_grad(set_to_none=True)
    with runtime.autocast():
        fake_b = gen(G_A, real_a)  # A -> B
        rec_a = gen(G_B, fake_b)  # A -> B -> A
        fake_a = gen(G_B, real_b)  # B -> A
        rec_b = gen(G_A, fake_a)  # B -> A -> B
        scores_fake_b, scores_fake_a = judge(unwrap(D_A), fake_b), judge(unwrap(D_B), fake_a)  # plain D: no DDP sync
    loss_g_a = g_loss_scales(gan_mode, scores_fake_b)
    loss_g_b = g_loss_scales(gan_mode, scores_fake_a)
    loss_cycle_a = F.l1_loss(rec_a.float(), real_a.float()) * lambda_a
    loss_cycle_b = F.l1_loss(rec_b.float(), real_b.float()) * lambda_b
    loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b
    losses: dict[str, torch.Tensor] = {}
    if lambda_identity > 0:
        with runtime.autocast():
            idt_a, idt_b = gen(G_A, real_b), gen(G_B, real_a)  # G_A should leave B images alone, and vice versa
        loss_idt_a = F.l1_loss(idt_a.float(), real_b.float()) * lambda_b * lambda_identity
        loss_idt_b = F.l1_loss(idt_b.float(), real_a.float()) * lambda_a * lambda_identity
        loss_g = loss_g + loss_idt_a + loss_idt_b
        losses.update(loss_idt_A=loss_idt_a.detach(), loss_idt_B=loss_idt_b.detach())
    runtime.step(loss_g, opt_G)

    # (2) update D_A and D_B on real images and pooled generated ones
    D_A.requires_grad_(True)
    D_B.requires_grad_(True)
    opt_D.zero_grad(set_to_none=True)
    loss_d_a, real_scores_a, fake_scores_a = _discriminator_loss(D_A, real_b, pools["B"].query(fake_b), gan_mode, lambda_gp, runtime)
    loss_d_b, real_scores_b, fake_scores_b = _discriminator_loss(D_B, real_a, pools["A"].query(fake_a), gan_mode, lambda_gp, runtime)
    runtime.step(loss_d_a + loss_d_b, opt_D)

    view = d_probability_view
    losses.update(
        loss_G=loss_g.detach(),
        loss_G_A=loss_g_a.detach(),
        loss_G_B=loss_g_b.detach(),
        loss_cycle_A=loss_cycle_a.detach(),
        loss_cycle_B=loss_cycle_b.detach(),
        loss_D_A=loss_d_a.detach(),
        loss_D_B=loss_d_b.detach(),
        D_real_A=view(gan_mode, real_scores_a).mean(),
        D_fake_A=view(gan_mode, fake_scores_a).mean(),
        D_real_B=view(gan_mode, real_scores_b).mean(),
        D_fake_B=view(gan_mode, fake_scores_b).mean(),
    )
    losses.update(fingerprints(fake_b, real_b))
    return losses


@dataclass
class CycleGANOptions(Section):
    """[cyclegan]: the keys only CycleGAN reads; every default is its paper's."""

    # Cycle-consistency weights, A -> B -> A and B -> A -> B (paper: 10 each).
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    # Identity term, relative to the cycle weights (paper: 0.5); 0 = off.
    lambda_identity: float = 0.5
    # Generated images D sees are drawn from a pool of the last this-many (paper: 50); 0 = the newest only.
    pool_size: int = 50

    def __post_init__(self) -> None:
        check_weights(self, "cyclegan", ("lambda_a", "lambda_b", "lambda_identity"))
        check(self.pool_size >= 0, "cyclegan.pool_size", "must be >= 0")


@register_method
class CycleGAN(Networks):
    """Owns G_A, G_B, D_A, D_B, their two Adams and the two image pools."""

    name = "cyclegan"
    options = CycleGANOptions
    data_kind = "unpaired"
    defaults = UNPAIRED_PAPERS_RECIPE  # the CycleGAN paper's
    paper_defaults = defaults
    generator_keys = {"AtoB": "G_A", "BtoA": "G_B"}
    health_signals = (
        HealthSignals(" (D_A, B side)", "D_real_A", "D_fake_A", "loss_D_A", "loss_G_A", "loss_cycle_A"),
        HealthSignals(" (D_B, A side)", "D_real_B", "D_fake_B", "loss_D_B", "loss_G_B", "loss_cycle_B"),
    )
    test_columns = ("real", "translated", "reconstructed")
    round_trip = True
    progress_keys = {"loss_G_A": "G_A", "loss_G_B": "G_B", "loss_cycle_A": "cyc"}
    research_generators = ("resnet_6blocks", "resnet_9blocks")

    def __init__(self, cfg: Config, channels: tuple[int, int], device: torch.device) -> None:
        self.cfg, self.device, self.channels = cfg, device, channels
        ch_a, ch_b = channels
        refuse_paired_terms(cfg, self.name)
        opts: CycleGANOptions = cfg.options
        if opts.lambda_identity > 0 and ch_a != ch_b:
            raise ConfigError(
                f"cyclegan.lambda_identity={opts.lambda_identity} needs the same channel count on both sides "
                f"(A has {ch_a}, B has {ch_b}); set cyclegan.lambda_identity=0 or data.input_channels/output_channels"
            )
        self.nets = {
            "G_A": generator_from_config(cfg, ch_a, ch_b),
            "G_B": generator_from_config(cfg, ch_b, ch_a),
            "D_A": discriminator_from_config(cfg, ch_b),  # judges B-domain images
            "D_B": discriminator_from_config(cfg, ch_a),
        }
        for net in self.nets.values():
            init_weights(net, cfg.model.init, cfg.model.init_gain)
            net.to(device)
        t = cfg.train
        g_params = list(self.nets["G_A"].parameters()) + list(self.nets["G_B"].parameters())
        d_params = list(self.nets["D_A"].parameters()) + list(self.nets["D_B"].parameters())
        self.opts = {"G": build_adam(g_params, t.lr_g, t.beta1, t.beta2, device),
                     "D": build_adam(d_params, t.lr_d, t.beta1, t.beta2, device)}
        self.pools = {"A": ImagePool(opts.pool_size, seed=t.seed * 2 + 1), "B": ImagePool(opts.pool_size, seed=t.seed * 2 + 2)}
        self.averages = averages_for(self.nets, ("G_A", "G_B"), t.ema_decay)

    def train_step(self, batch: dict[str, torch.Tensor], runtime: StepRuntime) -> dict[str, torch.Tensor]:
        real_a, real_b = model_inputs(batch, ("A", "B"), self.device, runtime)
        loss, opts = self.cfg.loss, self.cfg.options
        losses = cyclegan_step(
            self.nets, self.opts["G"], self.opts["D"], self.pools, real_a, real_b,
            gan_mode=loss.gan_mode, lambda_a=opts.lambda_a, lambda_b=opts.lambda_b,
            lambda_identity=opts.lambda_identity, lambda_gp=loss.lambda_gp, runtime=runtime,
        )
        self.update_averages()
        return losses

    def extra_state(self) -> dict[str, Any]:
        return {"pools": {side: pool.state_dict() for side, pool in self.pools.items()}, "ema_updates": self.averages_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        for side, pool_state in state.get("pools", {}).items():
            self.pools[side].load_state_dict(pool_state, self.device)
        self.load_averages_state(state.get("ema_updates", {}))
