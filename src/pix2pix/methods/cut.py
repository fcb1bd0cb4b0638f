"""CUT (Park et al., 2020, "Contrastive Learning for Unpaired Image-to-Image Translation").

One generator G: A -> B, one discriminator D on B images (least squares), and
PatchNCE: G's encoder features of an output patch should match those of the
input patch at the same place, against the other patches of the same image,
through a small MLP head F on several encoder layers. With
``loss.lambda_nce_idt`` > 0 (CUT) the same loss keeps G(b) close to b for
target-domain images; 0 gives FastCUT (the paper then uses lambda_nce = 10).
No second generator and no cycle: faster and lighter than CycleGAN.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import Config, Section, check, check_weights
from ..errors import ConfigError
from ..models import build_head, init_weights, run_padded, size_multiple, unwrap
from ..models.discriminators import judge
from ..models.losses import d_loss_scales, g_loss_scales, patch_nce
from .base import (UNPAIRED_PAPERS_RECIPE, HealthSignals, Networks, StepRuntime, averages_for, build_adam, discriminator_from_config, fingerprints,
                   generator_from_config, d_views, model_inputs, refuse_paired_terms)
from .registry import register_method


def _nce(G: nn.Module, F: nn.Module, source: torch.Tensor, output: torch.Tensor, layers: list[int], patches: int,
         tau: float) -> torch.Tensor:
    """PatchNCE between ``source`` and G's ``output`` for it, averaged over the feature layers."""
    keys, positions = F(unwrap(G).encode(source, layers), patches)
    queries, _ = F(unwrap(G).encode(output, layers), patches, positions)
    return sum(patch_nce(q, k, source.shape[0], tau) for q, k in zip(queries, keys)) / len(layers)


def cut_step(
    G: nn.Module,
    D: nn.Module,
    F: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    *,
    gan_mode: str,
    lambda_nce: float,
    lambda_nce_idt: float,
    layers: list[int],
    patches: int,
    tau: float,
    runtime: StepRuntime,
) -> dict[str, torch.Tensor]:
    """One step: (1) update D on real B and G(A), (2) update G and F: fool D, keep each patch's content."""
    with runtime.autocast():
        fake_b = run_padded(G, real_a, size_multiple(G))
        idt_b = run_padded(G, real_b, size_multiple(G)) if lambda_nce_idt > 0 else None

    # (1) update D
    D.requires_grad_(True)
    opt_D.zero_grad(set_to_none=True)
    with runtime.autocast():
        pred_real, pred_fake = judge(D, real_b), judge(D, fake_b.detach())
    loss_d = 0.5 * (d_loss_scales(gan_mode, pred_real, real=True) + d_loss_scales(gan_mode, pred_fake, real=False))
    runtime.step(loss_d, opt_D)

    # (2) update G (and the PatchNCE head, in G's optimizer): fool D, keep the content patch by patch
    D.requires_grad_(False)
    opt_G.zero_grad(set_to_none=True)
    with runtime.autocast():
        loss_g_gan = g_loss_scales(gan_mode, judge(unwrap(D), fake_b))
        loss_nce = _nce(G, F, real_a, fake_b, layers, patches, tau)
        nce_total = lambda_nce * loss_nce
        losses: dict[str, torch.Tensor] = {}
        if idt_b is not None:
            loss_nce_idt = _nce(G, F, real_b, idt_b, layers, patches, tau)
            nce_total = (nce_total + lambda_nce_idt * loss_nce_idt) / 2  # the paper averages the two terms
            losses["loss_NCE_idt"] = loss_nce_idt.detach()
    loss_g = loss_g_gan.float() + nce_total.float()
    runtime.step(loss_g, opt_G)
    D.requires_grad_(True)

    losses.update(loss_D=loss_d.detach(), loss_G=loss_g.detach(), loss_G_GAN=loss_g_gan.detach(), loss_NCE=loss_nce.detach())
    losses.update(d_views(gan_mode, pred_real[0][-1], pred_fake[0][-1]))
    losses.update(fingerprints(fake_b, real_b))
    return losses


@dataclass
class CUTOptions(Section):
    """[cut]: the keys only CUT reads; every default is its paper's."""

    # PatchNCE weight on input -> output, and on target -> G(target) (the identity term; 0 = FastCUT,
    # which then uses lambda_nce = 10). Averaged when both are on.
    lambda_nce: float = 1.0
    lambda_nce_idt: float = 1.0
    # Generator layers whose features PatchNCE compares (the paper's, for the ResNet generator),
    # patches sampled per layer, and the temperature.
    nce_layers: str = "0,4,8,12,16"
    nce_patches: int = 256
    nce_tau: float = 0.07

    def __post_init__(self) -> None:
        check_weights(self, "cut", ("lambda_nce", "lambda_nce_idt"))
        check(bool(self.layers()) and min(self.layers()) >= 0, "cut.nce_layers",
              "must be a comma-separated list of layer numbers >= 0")
        check(self.nce_patches >= 1, "cut.nce_patches", "must be >= 1")
        check(0 < self.nce_tau <= 10, "cut.nce_tau", "must be in (0, 10]")

    def layers(self) -> list[int]:
        try:
            return [int(v) for v in self.nce_layers.split(",")]
        except ValueError:
            return []


@register_method
class CUT(Networks):
    """Owns G (A -> B), D (judges B images), the PatchNCE head F, one Adam for G and F, one for D."""

    name = "cut"
    options = CUTOptions
    data_kind = "unpaired"
    defaults = UNPAIRED_PAPERS_RECIPE  # the CUT paper's
    paper_defaults = defaults
    generator_keys = {"AtoB": "G"}
    health_signals = (HealthSignals("", "D_real", "D_fake", "loss_D", "loss_G_GAN", "loss_NCE"),)
    test_columns = ("real", "translated")
    round_trip = False
    progress_keys = {"loss_D": "D", "loss_G_GAN": "G", "loss_NCE": "NCE"}
    research_generators: tuple[str, ...] = ()

    def __init__(self, cfg: Config, channels: tuple[int, int], device: torch.device) -> None:
        self.cfg, self.device, self.channels = cfg, device, channels
        refuse_paired_terms(cfg, self.name)
        in_ch, out_ch = channels
        self.layers = cfg.options.layers()
        G, D = generator_from_config(cfg, in_ch, out_ch), discriminator_from_config(cfg, out_ch)
        if not hasattr(G, "encode"):
            raise ConfigError(f"model.generator: {cfg.model.generator} has no encoder features for PatchNCE")
        for net in (G, D):
            init_weights(net, cfg.model.init, cfg.model.init_gain)
        with torch.no_grad():  # the head's input widths: one probe through the encoder
            probe = torch.zeros(1, in_ch, size_multiple(G) * 4, size_multiple(G) * 4)
            try:
                widths = [f.shape[1] for f in G.encode(probe, self.layers)]
            except ConfigError as exc:
                raise ConfigError(f"cut.nce_layers={cfg.options.nce_layers}: {exc}") from None
        F = init_weights(build_head("patch_mlp", channels=widths), cfg.model.init, cfg.model.init_gain)
        self.nets = {"G": G.to(device), "D": D.to(device), "F": F.to(device)}
        t = cfg.train
        self.opts = {"G": build_adam(list(G.parameters()) + list(F.parameters()), t.lr_g, t.beta1, t.beta2, device),
                     "D": build_adam(D.parameters(), t.lr_d, t.beta1, t.beta2, device)}
        self.averages = averages_for(self.nets, ("G",), t.ema_decay)

    def train_step(self, batch: dict[str, torch.Tensor], runtime: StepRuntime) -> dict[str, torch.Tensor]:
        real_a, real_b = model_inputs(batch, ("A", "B"), self.device, runtime)
        loss, opts = self.cfg.loss, self.cfg.options
        losses = cut_step(
            self.nets["G"], self.nets["D"], self.nets["F"], self.opts["G"], self.opts["D"], real_a, real_b,
            gan_mode=loss.gan_mode, lambda_nce=opts.lambda_nce, lambda_nce_idt=opts.lambda_nce_idt, layers=self.layers,
            patches=opts.nce_patches, tau=opts.nce_tau, runtime=runtime,
        )
        self.update_averages()
        return losses
