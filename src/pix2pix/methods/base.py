"""What the trainer needs from a method, and the step helpers the methods share."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..models import unwrap
from .ema import WeightAverage

if TYPE_CHECKING:
    from ..config import Config


class StepRuntime(Protocol):
    """Precision handling the trainer hands to a training step."""

    def autocast(self) -> AbstractContextManager[Any]:
        """Context for forward passes (mixed precision or a no-op)."""

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward ``loss`` and step ``optimizer`` (with loss scaling where needed)."""


@dataclass(frozen=True)
class HealthSignals:
    """Names of one D/G pair's values in the step's loss dict, for the health monitor
    (a method with two discriminators has two of these)."""

    label: str
    d_real: str
    d_fake: str
    loss_d: str
    adversarial: str
    reconstruction: str


@dataclass(frozen=True)
class Sampling:
    """How a method's generator gives several pictures for one input (``translate --samples``, the test page,
    the server). ``source``: ``latent`` (a code z beside the input, drawn from N(0, I) per sample; ``encoder``
    names the checkpoint's network that maps a photo to its code, for ``--z-from``), ``dropout`` (its dropout
    masks, one seed per sample, in per_image inference mode: the pix2pix paper's only noise) or ``none``."""

    source: str = "none"
    encoder: str | None = None

    def __post_init__(self) -> None:
        if self.source not in ("latent", "dropout", "none"):  # a method's mistake, not the user's
            raise ValueError(f"Sampling.source '{self.source}' is not one of latent, dropout, none")


class Method(Protocol):
    """A training method: owns its networks and optimizers, one training step, and the class
    attributes the rest of the package reads instead of its name (see ``registry``)."""

    name: ClassVar[str]
    options: ClassVar[type]
    data_kind: ClassVar[str]
    defaults: ClassVar[dict[str, Any]]
    paper_defaults: ClassVar[dict[str, Any]]
    generator_keys: ClassVar[dict[str, str]]
    health_signals: ClassVar[tuple[HealthSignals, ...]]
    test_columns: ClassVar[tuple[str, ...]]
    round_trip: ClassVar[bool]
    progress_keys: ClassVar[dict[str, str]]
    research_generators: ClassVar[tuple[str, ...]]
    sampling: ClassVar[Sampling]

    def networks(self) -> dict[str, nn.Module]: ...

    @staticmethod
    def test_images(inp: np.ndarray, output: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
        """A paired method's row of the test page, image by image, named as in ``test_columns``."""

    @classmethod
    def inference_generator(cls, cfg: "Config", in_channels: int, out_channels: int) -> nn.Module:
        """An uninitialised generator of the kind this method trains (test, translate, export load into it)."""

    @classmethod
    def inference_encoder(cls, cfg: "Config", image_channels: int) -> nn.Module | None:
        """An uninitialised ``sampling.encoder`` (photo -> (mu, logvar) of its code), or None without one."""

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def train_step(self, batch: dict[str, torch.Tensor], runtime: StepRuntime) -> dict[str, torch.Tensor]: ...

    def generator(self, direction: str = "AtoB") -> nn.Module: ...

    def wrap_networks(self, wrap: Callable[[nn.Module], nn.Module]) -> None: ...

    def extra_state(self) -> dict[str, Any]: ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...


class Networks:
    """The plumbing every method shares: its trained networks by name (``nets``), their optimizers
    (``opts``, named G and D), and the weight averages of some of them (``averages``, name -> average)."""

    nets: dict[str, nn.Module]
    opts: dict[str, torch.optim.Optimizer]
    averages: dict[str, WeightAverage]
    generator_keys: ClassVar[dict[str, str]]
    sampling: ClassVar[Sampling] = Sampling()

    @staticmethod
    def test_images(inp: np.ndarray, output: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
        return {"input": inp, "output": output, "target": target}

    @classmethod
    def inference_generator(cls, cfg: "Config", in_channels: int, out_channels: int) -> nn.Module:
        """An uninitialised generator of the kind this method trains, to load saved weights into."""
        return generator_from_config(cfg, in_channels, out_channels)

    @classmethod
    def inference_encoder(cls, cfg: "Config", image_channels: int) -> nn.Module | None:
        return None

    def networks(self) -> dict[str, nn.Module]:
        """Everything a checkpoint holds: the trained networks and, as ``<name>_ema``, their averages."""
        return {**self.nets, **{f"{name}_ema": average.average for name, average in self.averages.items()}}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return dict(self.opts)

    def generator(self, direction: str = "AtoB") -> nn.Module:
        """The generator inference uses for ``direction``: its weight average when there is one."""
        name = self.generator_keys[direction]
        return self.averages[name].average if name in self.averages else self.nets[name]

    def wrap_networks(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Replace each trained network by ``wrap(network)`` (DDP, torch.compile); optimizers keep their parameters."""
        self.nets = {name: wrap(net) for name, net in self.nets.items()}

    def update_averages(self) -> None:
        for name, average in self.averages.items():
            average.update(unwrap(self.nets[name]))

    def averages_state(self) -> dict[str, int]:
        return {name: average.updates for name, average in self.averages.items()}

    def load_averages_state(self, state: dict[str, int]) -> None:
        for name, updates in state.items():
            self.averages[name].updates = int(updates)

    def extra_state(self) -> dict[str, Any]:
        """What a checkpoint keeps beside weights and optimizers: the averages' update counts (a method with
        more state, such as image pools, returns its own as well)."""
        return {"ema_updates": self.averages_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.load_averages_state(state.get("ema_updates", {}))


# CycleGAN's recipe (Zhu et al., 2017), which CUT (Park et al., 2020) kept: ResNet generator,
# instance norm, no dropout, least-squares GAN loss.
UNPAIRED_PAPERS_RECIPE: dict[str, Any] = {
    "model.generator": "resnet_9blocks", "model.norm": "instance", "model.dropout": 0.0,
    "loss.gan_mode": "lsgan", "model.upsample": "transposed", "train.ema_decay": 0.0, "model.input_skip": 0,
}


def d_views(mode: str, real_scores: torch.Tensor, fake_scores: torch.Tensor, suffix: str = "") -> dict[str, torch.Tensor]:
    """D's mean outputs on real and generated images, as the monitor reads them (``D_real``, ``D_fake``)."""
    from ..models.losses import d_probability_view

    return {f"D_real{suffix}": d_probability_view(mode, real_scores.detach()).mean(),
            f"D_fake{suffix}": d_probability_view(mode, fake_scores.detach()).mean()}


def refuse_paired_terms(cfg: "Config", method: str) -> None:
    """Every method but pix2pix: pix2pix's optional terms, which their steps do not compute (``loss.lambda_gan``
    weighs pix2pix's adversarial term; the others cannot do without theirs)."""
    for key, value in (("loss.lambda_gan", cfg.loss.lambda_gan != 1), ("loss.lambda_fm", cfg.loss.lambda_fm),
                       ("model.output_palette", cfg.model.output_palette != "none"),
                       ("loss.lambda_r1", cfg.loss.lambda_r1), ("loss.lambda_vgg", cfg.loss.lambda_vgg),
                       ("loss.lambda_fft", cfg.loss.lambda_fft), ("loss.lambda_spectrum", cfg.loss.lambda_spectrum),
                       ("train.d_augment", cfg.train.d_augment != "none")):
        if value:
            raise ConfigError(f"{key} is an option of the pix2pix method (its step alone computes it); {method} does not use it")


def averages_for(nets: dict[str, nn.Module], names: tuple[str, ...], decay: float) -> dict[str, WeightAverage]:
    """Weight averages of the networks ``names`` when ``decay`` > 0 (``train.ema_decay``), else none."""
    return {name: WeightAverage(nets[name], decay) for name in names} if decay > 0 else {}


def build_adam(params: Any, lr: float, beta1: float, beta2: float, device: torch.device) -> torch.optim.Adam:
    """Adam as in the papers, with the fused kernel (same maths, one pass over the weights:
    measured 1.15x per training step on CPU, where the update of 57M weights is memory-bound)."""
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), fused=True)


def model_inputs(batch: dict[str, torch.Tensor], keys: tuple[str, ...], device: torch.device, runtime: StepRuntime) -> list[torch.Tensor]:
    """The batch's uint8 images as float [-1, 1] tensors on ``device`` (NHWC when the runtime asks)."""
    from ..data.tensors import to_model_range

    tensors = [to_model_range(batch[key].to(device, non_blocking=True)) for key in keys]
    if getattr(runtime, "channels_last", False):
        tensors = [t.contiguous(memory_format=torch.channels_last) for t in tensors]
    return tensors


def fingerprints(output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """4x4 average-pooled outputs and targets, (B, C*16): the health monitor compares their spread."""
    pool = torch.nn.functional.adaptive_avg_pool2d
    return {
        "fingerprint_output": pool(output.detach().float(), 4).flatten(1),
        "fingerprint_target": pool(target.detach().float(), 4).flatten(1),
    }


def _require_resolved(cfg: "Config") -> None:
    if not cfg.resolved:  # a caller's mistake, not the user's: its auto keys would reach the builders
        raise ValueError("build networks from a resolved config (pix2pix.methods.resolve)")


def generator_from_config(cfg: "Config", in_channels: int, out_channels: int, latent: int = 0,
                          latent_layers: str = "input") -> nn.Module:
    """The configured generator (uninitialised) of a resolved config: shared by methods and the model loader.
    ``latent`` > 0: it also takes a code z of that many numbers (0 when none is given), beside the input or
    (``latent_layers="all"``) beside every encoder layer's input."""
    from ..models import build_generator

    from ..data.palette import load_palette
    from ..models.colour import BinnedColorization, LabColorization
    from ..models.generators import InpaintingComposite, ResidualComposite
    from ..models.label_maps import PaletteClasses

    _require_resolved(cfg)
    m = cfg.model
    colour = m.colorization_output if cfg.data.task == "colorization" else "rgb"
    classes = load_palette(m.output_palette, "model.output_palette").colors if m.output_palette != "none" else None
    if classes is not None and latent:
        raise ConfigError("model.output_palette: a generator taking a latent code draws images, not label maps")
    channels = len(classes) if classes is not None else {"ab": 2, "bins": BinnedColorization.channels()}.get(colour, out_channels)
    net = build_generator(
        m.generator, in_channels=in_channels, out_channels=channels, ngf=m.ngf, norm=m.norm,
        dropout=m.dropout, image_size=cfg.data.crop_size, upsample=m.upsample, input_skip=m.input_skip, latent=latent,
        latent_layers=latent_layers,
    )
    if cfg.data.task == "inpainting":
        return InpaintingComposite(net)
    if cfg.data.task in ("superres", "denoise"):
        return ResidualComposite(net)
    if classes is not None:
        return PaletteClasses(net, classes)
    if colour == "bins":
        return BinnedColorization(net, m.color_temperature, m.color_rebalance)
    return LabColorization(net) if colour == "ab" else net


def discriminator_from_config(cfg: "Config", in_channels: int) -> nn.Module:
    from ..models import build_discriminator

    _require_resolved(cfg)
    m = cfg.model
    net = build_discriminator(m.discriminator, in_channels=in_channels, ndf=m.ndf, n_layers=m.n_layers_d, norm=m.norm,
                              num_d=m.num_d, spectral_norm=m.d_spectral_norm)
    smallest = getattr(net, "smallest_input", 1)
    if cfg.data.crop_size < smallest:
        raise ConfigError(f"data.crop_size {cfg.data.crop_size} is too small for the discriminator (model.discriminator="
                          f"{m.discriminator}, model.num_d={m.num_d}, model.n_layers_d={m.n_layers_d}): the smallest crop "
                          f"that works is {smallest}")
    return net
