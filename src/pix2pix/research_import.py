"""Import a generator trained with the widely used research code (``latest_net_G.pth``).

Its parameter counts already match ours; only the module names differ for the
U-Net (its nested ``UnetSkipConnectionBlock``s). The ResNet generator uses the
same names. The result is a run folder that ``translate``, ``test``, ``export``
and ``serve`` accept.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from . import __version__
from .config import Config, apply_overrides, to_toml
from .data.io import atomic_write
from .errors import CheckpointError, ConfigError, shown
from .methods import method_for_research_generator, resolve
from .methods.base import generator_from_config
from .models.generators import UNet
from .runs import checkpoints as ckpt

UNET_DEPTHS = {"unet_128": 7, "unet_256": 8}


def research_unet_names(depth: int) -> dict[str, str]:
    """Our U-Net module prefixes -> the research code's nested-block prefixes."""
    levels = ["model.model"]  # the Sequential of block level k (0 = outermost)
    for k in range(1, depth):
        levels.append(levels[-1] + (".1.model" if k == 1 else ".3.model"))
    names = {"encoder.0": f"{levels[0]}.0", "decoder.0.1": f"{levels[0]}.3"}
    for k in range(1, depth - 1):
        names[f"encoder.{k}.1"] = f"{levels[k]}.1"
        names[f"encoder.{k}.2"] = f"{levels[k]}.2"
        names[f"decoder.{k}.1"] = f"{levels[k]}.5"
        names[f"decoder.{k}.2"] = f"{levels[k]}.6"
    inner = levels[depth - 1]
    names[f"encoder.{depth - 1}.1"] = f"{inner}.1"
    names[f"decoder.{depth - 1}.1"] = f"{inner}.3"
    names[f"decoder.{depth - 1}.2"] = f"{inner}.4"
    return names


def _infer_channels(state: dict[str, torch.Tensor], generator: str) -> tuple[int, int, int]:
    """(in_channels, out_channels, ngf) from the first and last layers' shapes."""
    if generator.startswith("unet"):
        first, last = state.get("model.model.0.weight"), state.get("model.model.3.weight")
        if first is None or last is None:
            raise CheckpointError("not a research U-Net generator (no model.model.0 / model.model.3 weights)")
        return int(first.shape[1]), int(last.shape[1]), int(first.shape[0])
    first = state.get("model.1.weight")
    convs = [k for k in state if k.startswith("model.") and k.endswith(".weight") and state[k].dim() == 4]
    if first is None or not convs:
        raise CheckpointError("not a research ResNet generator (no model.1 weights)")
    last = state[max(convs, key=lambda k: int(k.split(".")[1]))]
    return int(first.shape[1]), int(last.shape[0]), int(first.shape[0])


def convert_state(state: dict[str, torch.Tensor], net: torch.nn.Module, generator: str) -> dict[str, torch.Tensor]:
    """Rename research keys to ours and check every tensor's shape."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    ours = net.state_dict()
    if isinstance(net, UNet):
        prefixes = research_unet_names(len(net.encoder))
        source = {}
        for key in ours:
            prefix, leaf = key.rsplit(".", 1)
            source[key] = f"{prefixes[prefix]}.{leaf}" if prefix in prefixes else key
    else:
        source = {key: key for key in ours}
    converted = {}
    for key, value in ours.items():
        name = source[key]
        if name not in state:
            if key.endswith("num_batches_tracked"):  # older checkpoints lack the counters
                converted[key] = value
                continue
            raise CheckpointError(f"missing '{name}' (for our '{key}'): is it a {generator} with this norm?")
        if tuple(state[name].shape) != tuple(value.shape):
            raise CheckpointError(f"'{name}' has shape {tuple(state[name].shape)}, expected {tuple(value.shape)} for {generator}")
        converted[key] = state[name].to(value.dtype)
    used = set(source[k] for k in ours)
    extra = [k for k in state if k not in used and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    if extra:
        raise CheckpointError(f"unexpected '{extra[0]}': not a {generator} generator")
    return converted


def import_research_generator(
    file: str | Path,
    generator: str,
    out: str | Path,
    *,
    norm: str = "batch",
    direction: str = "AtoB",
    overrides: list[str] | None = None,
) -> Path:
    """Convert ``latest_net_G.pth`` into a run folder with a weights-only checkpoint."""
    file, out = Path(file), Path(out)
    if generator not in ("unet_128", "unet_256", "resnet_6blocks", "resnet_9blocks"):
        raise ConfigError(f"--generator: '{generator}' is not one of unet_128, unet_256, resnet_6blocks, resnet_9blocks")
    if (out / "checkpoints").exists():
        raise ConfigError(f"--out {shown(out)} already holds a run; choose another folder")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{shown(file)}: file not found") from None
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{shown(file)}: not a readable PyTorch state dict ({str(exc).splitlines()[0][:120]})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{shown(file)}: not a generator state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    in_ch, out_ch, ngf = _infer_channels(state, generator)
    size = 128 if generator == "unet_128" else 256
    is_unet = generator.startswith("unet")
    method = method_for_research_generator(generator)
    base = {
        "model": {"method": method.name, "generator": generator, "norm": norm, "ngf": ngf,
                  "dropout": 0.5 if is_unet else 0.0, "upsample": "transposed", "recipe": "published"},  # the research networks
        "train": {"ema_decay": 0.0},
        # The research test script runs at load_size = crop_size (no jitter): translate resizes to this.
        "data": {"direction": direction, "load_size": size, "crop_size": size},
    }
    cfg = resolve(Config.from_dict(apply_overrides(base, list(overrides or []))))
    net = generator_from_config(cfg, in_ch, out_ch)
    try:
        net.load_state_dict(convert_state(state, net, generator))
    except CheckpointError as exc:
        raise CheckpointError(f"{shown(file)}: {exc}") from None
    key = method.generator_keys["AtoB"]
    checkpoint = ckpt.base_state(cfg, cfg.model.method, (in_ch, out_ch), {key: net})
    checkpoint.update(step=0, imported_from=str(file))
    out.mkdir(parents=True, exist_ok=True)
    ckpt.save_checkpoint(out / "checkpoints" / ckpt.LATEST, checkpoint)
    atomic_write(out / "config.toml", lambda fh: fh.write(to_toml(cfg)), mode="w")
    meta = {"version": __version__, "imported_from": str(file.resolve()), "method": cfg.model.method, "channels": [in_ch, out_ch]}
    atomic_write(out / "run.json", lambda fh: fh.write(json.dumps(meta, indent=2) + "\n"), mode="w")
    return out
