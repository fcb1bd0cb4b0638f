"""Methods by name: ``@register_method`` on a method class, ``build_method`` from a config.

A method class declares, as class attributes, everything the rest of the
package needs to know about it without naming it:

- ``name``: the value of ``model.method``;
- ``data_kind``: ``"paired"`` (pairs by file name or A|B files) or ``"unpaired"``
  (two collections, each image on its own);
- ``defaults``: the values of the config's ``auto`` keys for this method, our
  best measured recipe; ``paper_defaults``: its paper's (``--preset paper``);
- ``generator_keys``: translation direction -> network name in a checkpoint,
  i.e. the generators that inference, export and serving use;
- ``health_signals``: which logged values the health monitor reads;
- ``test_columns``: the test page's image columns;
- ``round_trip``: True when its two generators invert each other, so that
  validation scores the round trip and the test page shows it (``reconstructed``);
- ``progress_keys``: logged loss -> its short label on the progress bar;
- ``research_generators``: the research code's generator names whose
  checkpoints ``pix2pix import`` turns into a run of this method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import torch

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config
    from .base import Method

_METHODS: dict[str, type] = {}
M = TypeVar("M", bound=type)


def register_method(cls: M) -> M:
    """Class decorator: make ``cls`` available as ``model.method = cls.name``."""
    name = cls.name  # type: ignore[attr-defined]
    if name in _METHODS:
        raise ValueError(f"method '{name}' registered twice")
    _METHODS[name] = cls
    return cls


def method_names() -> list[str]:
    return sorted(_METHODS)


def method_class(name: str) -> Any:
    """The registered class of a method; an unknown name lists the valid ones."""
    if name not in _METHODS:
        raise ConfigError(f"model.method: unknown method '{name}' (valid: {', '.join(method_names())})")
    return _METHODS[name]


def resolve(cfg: "Config") -> "Config":
    """Fill the config's ``auto`` keys with the method's defaults (in place; returns ``cfg``): its best
    measured recipe, or with ``model.recipe=paper`` its paper's settings."""
    cls = method_class(cfg.model.method)
    cfg.fill_auto(cls.paper_defaults if cfg.model.recipe == "paper" else cls.defaults)
    return cfg


def build_method(cfg: "Config", channels: tuple[int, int], device: torch.device) -> "Method":
    """The method object named by ``model.method``, networks initialised on ``device``."""
    cls = method_class(cfg.model.method)
    return cls(resolve(cfg), channels, device)


def method_for_research_generator(generator: str) -> Any:
    """The method whose research-code checkpoints use ``generator`` (for ``pix2pix import``)."""
    for cls in _METHODS.values():
        if generator in cls.research_generators:
            return cls
    raise ConfigError(f"--generator: no method imports research '{generator}' generators")
