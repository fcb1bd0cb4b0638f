"""Name -> factory registries for generators and discriminators.

A new architecture is one decorated function; variants such as ``unet_128`` and
``unet_256`` are argument presets of the same network. Every generator factory
takes the same keyword-only arguments, and so does every discriminator factory,
so callers never need to know which one they build.
"""

from __future__ import annotations

import inspect
from typing import Callable, Protocol, TypeVar

from torch import nn

from ..errors import ConfigError


class GeneratorFactory(Protocol):
    def __call__(
        self, *, in_channels: int, out_channels: int, ngf: int, norm: str, dropout: float, image_size: int,
        upsample: str = "transposed",
    ) -> nn.Module: ...


class DiscriminatorFactory(Protocol):
    def __call__(
        self, *, in_channels: int, ndf: int, n_layers: int, norm: str, num_d: int = 1, spectral_norm: bool = False
    ) -> nn.Module: ...


class HeadFactory(Protocol):
    def __call__(self, *, channels: list[int], width: int) -> nn.Module: ...


class EncoderFactory(Protocol):
    def __call__(self, *, in_channels: int, latent: int, nef: int, norm: str, image_size: int) -> nn.Module: ...


_GENERATORS: dict[str, GeneratorFactory] = {}
_DISCRIMINATORS: dict[str, DiscriminatorFactory] = {}
_HEADS: dict[str, HeadFactory] = {}  # small networks on generator features (PatchNCE's projection MLP)
_ENCODERS: dict[str, EncoderFactory] = {}  # image -> a latent code's mean and log-variance (BicycleGAN's E)


F = TypeVar("F")


def _registrar(table: dict[str, F], kind: str, name: str) -> Callable[[F], F]:
    """The decorator that files a factory under ``name`` in one registry (each name once)."""

    def add(factory: F) -> F:
        if name in table:
            raise ValueError(f"{kind} '{name}' registered twice")
        table[name] = factory
        return factory

    return add


def register_generator(name: str) -> Callable[[GeneratorFactory], GeneratorFactory]:
    return _registrar(_GENERATORS, "generator", name)


def register_discriminator(name: str) -> Callable[[DiscriminatorFactory], DiscriminatorFactory]:
    return _registrar(_DISCRIMINATORS, "discriminator", name)


def register_head(name: str) -> Callable[[HeadFactory], HeadFactory]:
    return _registrar(_HEADS, "head", name)


def register_encoder(name: str) -> Callable[[EncoderFactory], EncoderFactory]:
    return _registrar(_ENCODERS, "encoder", name)


def encoder_names() -> list[str]:
    return sorted(_ENCODERS)


def build_encoder(name: str, *, in_channels: int, latent: int, nef: int = 64, norm: str = "instance",
                  image_size: int = 256) -> nn.Module:
    """Build a registered encoder; an unknown name lists the valid ones."""
    if name not in _ENCODERS:
        raise ConfigError(f"unknown encoder '{name}' (valid: {', '.join(encoder_names())})")
    return _ENCODERS[name](in_channels=in_channels, latent=latent, nef=nef, norm=norm, image_size=image_size)


def head_names() -> list[str]:
    return sorted(_HEADS)


def build_head(name: str, *, channels: list[int], width: int = 256) -> nn.Module:
    """Build a registered feature head; an unknown name lists the valid ones."""
    if name not in _HEADS:
        raise ConfigError(f"unknown head '{name}' (valid: {', '.join(head_names())})")
    return _HEADS[name](channels=channels, width=width)


def generator_names() -> list[str]:
    return sorted(_GENERATORS)


def discriminator_names() -> list[str]:
    return sorted(_DISCRIMINATORS)


def build_generator(
    name: str,
    *,
    in_channels: int,
    out_channels: int,
    ngf: int = 64,
    norm: str = "batch",
    dropout: float = 0.0,
    image_size: int = 256,
    upsample: str = "transposed",
    input_skip: int = 0,
    latent: int = 0,
    latent_layers: str = "input",
) -> nn.Module:
    """Build a registered generator; an unknown name lists the valid ones. ``input_skip`` and ``latent``
    (a code z taken beside the input, or with ``latent_layers="all"`` beside every encoder layer's input)
    are asked only of the generators that take them, when set."""
    if name not in _GENERATORS:
        raise ConfigError(f"model.generator: unknown generator '{name}' (valid: {', '.join(generator_names())})")
    extra = {}
    takes = inspect.signature(_GENERATORS[name]).parameters
    if input_skip:  # only generators that take it (the U-Nets) are asked
        if "input_skip" not in takes:
            raise ConfigError(f"model.input_skip: the {name} generator has no full-resolution input skip (U-Nets do)")
        extra["input_skip"] = input_skip
    if latent:
        if "latent" not in takes:
            raise ConfigError(f"model.generator: the {name} generator takes no latent code (the U-Nets do)")
        extra.update(latent=latent, latent_layers=latent_layers)
    return _GENERATORS[name](
        in_channels=in_channels, out_channels=out_channels, ngf=ngf, norm=norm, dropout=dropout, image_size=image_size,
        upsample=upsample, **extra,
    )


def build_discriminator(
    name: str, *, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch", num_d: int = 1,
    spectral_norm: bool = False,
) -> nn.Module:
    """Build a registered discriminator; an unknown name lists the valid ones."""
    if name not in _DISCRIMINATORS:
        raise ConfigError(
            f"model.discriminator: unknown discriminator '{name}' (valid: {', '.join(discriminator_names())})"
        )
    return _DISCRIMINATORS[name](in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm, num_d=num_d,
                                 spectral_norm=spectral_norm)
