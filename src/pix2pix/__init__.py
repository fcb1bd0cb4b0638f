"""pix2pix: image-to-image translation with conditional GANs (pix2pix, CycleGAN).

The public API is imported lazily so that ``pix2pix --help`` stays fast::

    from pix2pix import Translator, Config, TrainConfig, train
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "pix2pix.config",
    "DataConfig": "pix2pix.config",
    "ModelConfig": "pix2pix.config",
    "LossConfig": "pix2pix.config",
    "TrainConfig": "pix2pix.config",
    "InferenceConfig": "pix2pix.config",
    "load_config": "pix2pix.config",
    "train": "pix2pix.api",
    "resume": "pix2pix.api",
    "Translator": "pix2pix.inference",
    "load_model": "pix2pix.inference",
    "Pix2PixError": "pix2pix.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pix2pix' has no attribute '{name}'")
