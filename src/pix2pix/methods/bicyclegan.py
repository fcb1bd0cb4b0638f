"""BicycleGAN (Zhu et al., 2017, "Toward Multimodal Image-to-Image Translation"): paired translation with a
latent code z, so that one input can give several plausible outputs.

Two cycles share the generator G(input, z) and the encoder E(image) -> (mu, logvar):

- cVAE-GAN (image -> z -> image): z = mu + sigma * eps from E(target); G(input, z) must reproduce the target
  (L1, weight ``bicyclegan.lambda_image``), look real to D, and the code's distribution stays close to the
  prior N(0, I) (KL, ``bicyclegan.lambda_kl``).
- cLR-GAN (z -> image -> z): a random z ~ N(0, I) gives G(input, z), which must look real to D2, and E must
  recover z from it (L1 on E's mean, ``bicyclegan.lambda_latent``: a gradient for G only, as in the paper).

As in the paper's code, D and D2 see output images alone (not paired with the input), least-squares GAN
loss, G and E updated together, then the two discriminators. Without a z G runs at z = 0, the prior's mean;
``sampling`` tells inference to draw z ~ N(0, I) per sample, or to take a photo's code from E.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, LossConfig, Section, check, check_weights
from ..errors import ConfigError
from ..models import build_encoder, init_weights, pad_to_multiple, size_multiple, unwrap
from ..models.discriminators import judge
from ..models.losses import d_loss_scales, g_loss_scales
from .base import (HealthSignals, Networks, StepRuntime, averages_for, build_adam, d_views, discriminator_from_config,
                   fingerprints, generator_from_config, model_inputs, refuse_paired_terms, Sampling)
from .registry import register_method


@dataclass
class BicycleGANOptions(Section):
    """[bicyclegan]: the keys only BicycleGAN reads; every default is its paper's."""

    # Length of the latent code z (paper: 8).
    nz: int = 8
    # Weights: the image reconstruction (L1) of the cVAE-GAN cycle, the KL term to the prior (summed over
    # the code and averaged over the batch: the paper's code at its batch of one encoded pair), and the
    # latent regression of the cLR-GAN cycle (L1).
    lambda_image: float = 10.0
    lambda_kl: float = 0.01
    lambda_latent: float = 0.5
    # Where G takes z: beside every encoder layer's input ("all", the paper's code's default,
    # add-to-all) or beside the input image alone ("input").
    z_layers: str = "all"
    # Filters in the encoder's first layer (paper: 64).
    nef: int = 64
    # Registered encoder (pix2pix.models.encoders).
    encoder: str = "resnet"

    def __post_init__(self) -> None:
        check(1 <= self.nz <= 512, "bicyclegan.nz", "must be between 1 and 512")
        check_weights(self, "bicyclegan", ("lambda_image", "lambda_kl", "lambda_latent"))
        check(1 <= self.nef <= 1024, "bicyclegan.nef", "must be between 1 and 1024")
        check(self.z_layers in ("all", "input"), "bicyclegan.z_layers", f"'{self.z_layers}' is not one of all, input")


@dataclass(frozen=True)
class BicycleTerms:
    gan_mode: str
    lambda_image: float
    lambda_kl: float
    lambda_latent: float
    nz: int


def bicyclegan_step(nets: dict[str, nn.Module], opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                    real_a: torch.Tensor, real_b: torch.Tensor, *, terms: BicycleTerms,
                    runtime: StepRuntime) -> dict[str, torch.Tensor]:
    """One step: (1) update G and E on both cycles, (2) update D (cVAE-GAN's outputs) and D2 (cLR-GAN's)."""
    G, E, D, D2 = nets["G"], nets["E"], nets["D"], nets["D2"]
    mode, batch = terms.gan_mode, real_a.shape[0]
    height, width = real_a.shape[-2:]
    multiple = size_multiple(G)

    def generate(z: torch.Tensor) -> torch.Tensor:
        return G(pad_to_multiple(real_a, multiple), z)[..., :height, :width]

    # (1) update G and E
    D.requires_grad_(False)
    D2.requires_grad_(False)
    opt_G.zero_grad(set_to_none=True)
    z_random = torch.randn(batch, terms.nz, device=real_a.device)
    with runtime.autocast():
        mu, logvar = E(real_b)
        mu, logvar = mu.float(), logvar.float()
        eps = torch.randn(mu.shape, device=mu.device)
        z_encoded = mu + eps * torch.exp(0.5 * logvar)  # the reparametrisation: a gradient reaches E
        fake_encoded = generate(z_encoded)  # cVAE-GAN: the target's own code
        fake_random = generate(z_random)  # cLR-GAN: a code from the prior
        loss_gan = g_loss_scales(mode, judge(unwrap(D), fake_encoded))
        loss_gan2 = g_loss_scales(mode, judge(unwrap(D2), fake_random))
    loss_image = F.l1_loss(fake_encoded.float(), real_b.float()) * terms.lambda_image
    loss_kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) * terms.lambda_kl / batch
    loss_g = loss_gan + loss_gan2 + loss_image + loss_kl
    losses: dict[str, torch.Tensor] = {"loss_z_L1": torch.zeros(())}
    if terms.lambda_latent > 0:  # the latent regression trains G alone (the paper's backward_G_alone): E's weights
        plain = unwrap(E)      # enter as constants, so its gradient reaches G through the image and E not at all
        frozen = {name: t.detach() for name, t in [*plain.named_parameters(), *plain.named_buffers()]}
        with runtime.autocast():
            mu_recovered, _ = torch.func.functional_call(plain, frozen, (fake_random,))
        loss_latent = F.l1_loss(mu_recovered.float(), z_random) * terms.lambda_latent
        loss_g = loss_g + loss_latent
        losses["loss_z_L1"] = loss_latent.detach()
    runtime.step(loss_g, opt_G)

    # (2) update D on the cVAE-GAN's outputs and D2 on the cLR-GAN's, each against the real targets
    D.requires_grad_(True)
    D2.requires_grad_(True)
    opt_D.zero_grad(set_to_none=True)
    with runtime.autocast():
        real_scores, fake_scores = judge(D, real_b), judge(D, fake_encoded.detach())
        real_scores2, fake_scores2 = judge(D2, real_b), judge(D2, fake_random.detach())
    loss_d = 0.5 * (d_loss_scales(mode, real_scores, real=True) + d_loss_scales(mode, fake_scores, real=False))
    loss_d2 = 0.5 * (d_loss_scales(mode, real_scores2, real=True) + d_loss_scales(mode, fake_scores2, real=False))
    runtime.step(loss_d + loss_d2, opt_D)

    losses.update(loss_G=loss_g.detach(), loss_G_GAN=loss_gan.detach(), loss_G_GAN2=loss_gan2.detach(),
                  loss_G_L1=loss_image.detach(), loss_kl=loss_kl.detach(), loss_D=loss_d.detach(), loss_D2=loss_d2.detach())
    losses.update(d_views(mode, real_scores[0][-1], fake_scores[0][-1]))
    losses.update(d_views(mode, real_scores2[0][-1], fake_scores2[0][-1], suffix="2"))
    losses.update(fingerprints(fake_random, real_b))
    return losses


def encoder_from_config(cfg: Config, image_channels: int) -> nn.Module:
    """E (uninitialised): a target image -> the mean and log-variance of its code."""
    opts: BicycleGANOptions = cfg.options
    E = build_encoder(opts.encoder, in_channels=image_channels, latent=opts.nz, nef=opts.nef, norm=cfg.model.norm,
                      image_size=cfg.data.crop_size)
    if cfg.data.crop_size < E.smallest_input:
        raise ConfigError(f"data.crop_size {cfg.data.crop_size} is too small for the {opts.encoder} encoder: the "
                          f"smallest crop that works is {E.smallest_input}")
    return E


@register_method
class BicycleGAN(Networks):
    """Owns G (a U-Net taking z beside the input), E (the encoder), D and D2 (on output images), one Adam for
    G and E and one for D and D2 (per weight the same as the paper's four: Adam is per parameter)."""

    name = "bicyclegan"
    options = BicycleGANOptions
    data_kind = "paired"
    # The paper's code: U-Net, instance norm, no dropout (z is the noise), least squares, transposed convs.
    paper_defaults = {"model.generator": "unet", "model.norm": "instance", "model.dropout": 0.0, "loss.gan_mode": "lsgan",
                      "model.upsample": "transposed", "train.ema_decay": 0.0, "model.input_skip": 0}
    defaults = paper_defaults
    generator_keys = {"AtoB": "G"}
    health_signals = (HealthSignals(" (D, encoded z)", "D_real", "D_fake", "loss_D", "loss_G_GAN", "loss_G_L1"),
                      HealthSignals(" (D2, random z)", "D_real2", "D_fake2", "loss_D2", "loss_G_GAN2", "loss_z_L1"))
    test_columns = ("input", "output", "target")
    round_trip = False
    progress_keys = {"loss_D": "D", "loss_G_GAN": "G", "loss_G_L1": "L1", "loss_kl": "KL", "loss_z_L1": "z"}
    research_generators: tuple[str, ...] = ()
    sampling = Sampling("latent", encoder="E")

    def __init__(self, cfg: Config, channels: tuple[int, int], device: torch.device) -> None:
        refuse_paired_terms(cfg, self.name)  # pix2pix's extra terms, which this step does not compute
        if cfg.data.task != "paired":
            raise ConfigError(f"data.task={cfg.data.task}: bicyclegan trains on pairs (data.task=paired)")
        if cfg.loss.lambda_l1 != LossConfig.lambda_l1:
            raise ConfigError("loss.lambda_l1: bicyclegan weighs its image reconstruction with bicyclegan.lambda_image")
        opts: BicycleGANOptions = cfg.options
        self.cfg, self.device = cfg, device
        in_ch, out_ch = channels
        G = generator_from_config(cfg, in_ch, out_ch, latent=opts.nz, latent_layers=opts.z_layers)
        E = encoder_from_config(cfg, out_ch)
        self.nets = {"G": G, "E": E, "D": discriminator_from_config(cfg, out_ch), "D2": discriminator_from_config(cfg, out_ch)}
        for net in self.nets.values():
            init_weights(net, cfg.model.init, cfg.model.init_gain)
            net.to(device)
        t = cfg.train
        self.opts = {"G": build_adam(list(G.parameters()) + list(E.parameters()), t.lr_g, t.beta1, t.beta2, device),
                     "D": build_adam(list(self.nets["D"].parameters()) + list(self.nets["D2"].parameters()), t.lr_d,
                                     t.beta1, t.beta2, device)}
        self.averages = averages_for(self.nets, ("G",), t.ema_decay)
        self.terms = BicycleTerms(cfg.loss.gan_mode, opts.lambda_image, opts.lambda_kl, opts.lambda_latent, opts.nz)

    @classmethod
    def inference_generator(cls, cfg: Config, in_channels: int, out_channels: int) -> nn.Module:
        return generator_from_config(cfg, in_channels, out_channels, latent=cfg.options.nz,
                                     latent_layers=cfg.options.z_layers)

    @classmethod
    def inference_encoder(cls, cfg: Config, image_channels: int) -> nn.Module:
        return encoder_from_config(cfg, image_channels)

    def train_step(self, batch: dict[str, torch.Tensor], runtime: StepRuntime) -> dict[str, torch.Tensor]:
        real_a, real_b = model_inputs(batch, ("input", "target"), self.device, runtime)
        losses = bicyclegan_step(self.nets, self.opts["G"], self.opts["D"], real_a, real_b, terms=self.terms,
                                 runtime=runtime)
        self.update_averages()
        return losses
