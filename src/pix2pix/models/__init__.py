"""Networks (registered by name), their initialisation and the GAN losses."""

from torch import nn

from . import discriminators, encoders, generators, heads  # noqa: F401 - registers the architectures
from .discriminators import PatchDiscriminator, PixelDiscriminator
from .generators import ResnetGenerator, UNet, unet_depth
from .init import init_weights
from .layers import inference_mode
from .padding import latent_size, pad_to_multiple, run_padded, size_multiple
from .registry import (
    build_discriminator,
    build_encoder,
    build_generator,
    build_head,
    discriminator_names,
    encoder_names,
    generator_names,
    head_names,
    register_discriminator,
    register_encoder,
    register_generator,
)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside DDP / torch.compile wrappers (calls through it skip their hooks)."""
    net = getattr(net, "module", net)
    return getattr(net, "_orig_mod", net)


__all__ = [
    "PatchDiscriminator",
    "PixelDiscriminator",
    "ResnetGenerator",
    "UNet",
    "build_discriminator",
    "build_encoder",
    "build_generator",
    "build_head",
    "count_parameters",
    "discriminator_names",
    "encoder_names",
    "generator_names",
    "head_names",
    "inference_mode",
    "init_weights",
    "latent_size",
    "pad_to_multiple",
    "register_discriminator",
    "register_encoder",
    "register_generator",
    "run_padded",
    "size_multiple",
    "unet_depth",
    "unwrap",
]
