"""Methods by name: ``@register_method`` on a method class, ``build_method`` from a config.

A method class declares, as class attributes, everything the rest of the
package needs to know about it without naming it:

- ``name``: the value of ``model.method``;
- ``data_kind``: ``"paired"`` (pairs by file name or A|B files) or ``"unpaired"``
  (two collections, each image on its own);
- ``options``: the dataclass of its own config section, named after it (``[cyclegan]``):
  the keys only it reads, each default its paper's value;
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
  checkpoints ``pix2pix import`` turns into a run of this method;
- ``sampling`` (``base.Sampling``): whether and how its generator gives several
  pictures for one input (a latent code, dropout, or not at all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import torch

from ..config import METHOD_AUTO_KEYS, SECTIONS, build_section
from ..data.palette import inline, load_palette
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
    for table in ("defaults", "paper_defaults"):
        missing = sorted(METHOD_AUTO_KEYS - set(getattr(cls, table)))
        if missing:  # the method's mistake, not the user's: a run would compute with "auto"
            raise ValueError(f"method '{name}': its {table} leave {', '.join(missing)} on auto")
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
    """The config a run computes with: a new, read-only config whose ``auto`` keys hold the method's
    defaults (its best measured recipe, or with ``model.recipe=published`` its paper's settings) and whose
    method section is built and checked. ``cfg`` is left as it was; a resolved config is returned as is."""
    if cfg.resolved:
        return cfg
    cls = method_class(cfg.model.method)
    for name in cfg.method_tables:
        if name == cls.name:
            continue
        if name in _METHODS:
            raise ConfigError(f"[{name}] holds options of the {name} method, and model.method is {cls.name}")
        raise ConfigError(f"unknown config section '{name}' (valid: {', '.join(SECTIONS)}, and {cls.name} for the "
                          "chosen method's own options)")
    out = cfg.copy()
    out.fill_auto(cls.paper_defaults if out.model.recipe == "published" else cls.defaults)
    if out.model.output_palette != "none":  # the colours themselves, so that the run needs no palette file later
        if out.data.task != "paired":
            raise ConfigError(f"model.output_palette: label-map outputs are for pairs, not data.task={out.data.task}")
        out.model.output_palette = inline(load_palette(out.model.output_palette, "model.output_palette"))
    return out.with_options(build_section(cls.name, cls.options, cfg.method_tables.get(cls.name, {})))


def build_method(cfg: "Config", channels: tuple[int, int], device: torch.device) -> "Method":
    """The method object named by ``model.method``, networks initialised on ``device``."""
    cfg = resolve(cfg)
    return method_class(cfg.model.method)(cfg, channels, device)


def method_for_research_generator(generator: str) -> Any:
    """The method whose research-code checkpoints use ``generator`` (for ``pix2pix import``)."""
    for cls in _METHODS.values():
        if generator in cls.research_generators:
            return cls
    raise ConfigError(f"--generator: no method imports research '{generator}' generators")
