"""Reading a trained model from any file a run or an export leaves: the generator(s) and what is needed
to run them like in training. Used by inference, export and serving alike (so it sits below them)."""

from __future__ import annotations

import json
import struct
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import Config
from .errors import CheckpointError, ConfigError, require, shown
from .methods import method_class, resolve
from .methods.base import Sampling
from .models import latent_size, size_multiple
from .models.inference_context import norm_mode
from .models.layers import freeze_inference_mode
from .runs.checkpoints import checkpoint_config, find_model_checkpoint, load_checkpoint

META_KEY = "pix2pix"  # the metadata entry of exported files: the program's name


@dataclass
class LoadedModel:
    """A trained model's generators and everything needed to run them like in training."""

    config: Config
    method: str
    channels: tuple[int, int]  # (input, output) of the AtoB generator
    generators: dict[str, nn.Module]  # direction -> generator
    step: int
    path: Path
    fixed_norm: str | None = None  # exported graphs: the inference mode baked into them
    input_palette: list[list[int]] | None = None  # class colours when the inputs are label maps
    weights: str = "live"  # "average" when the generators are the run's weight average (train.ema_decay)
    sampling: Sampling = Sampling()  # how the method gives several pictures per input (methods.base.Sampling)
    encoder: nn.Module | None = None  # photo -> (mu, logvar) of its code, for sampling.source == "latent"

    @property
    def latent(self) -> int:
        """The length of the code z the generator takes (0: none)."""
        return max((latent_size(net) for net in self.generators.values()), default=0)

    def channels_for(self, direction: str) -> tuple[int, int]:
        return self.channels if direction == "AtoB" else (self.channels[1], self.channels[0])


WEIGHTS = ("average", "live")


def load_model(path: str | Path, which: str = "best", device: str | torch.device = "cpu",
               weights: str = "average") -> LoadedModel:
    """Rebuild the generator(s) of a run folder or checkpoint file.

    Args:
        path: run folder (uses ``checkpoints/best.pt``, else ``latest.pt``) or a checkpoint file.
        which: best or latest, for run folders.
        weights: ``average`` takes the weight average where the run kept one (``train.ema_decay``), the
            model every command uses; ``live`` takes the trained weights themselves, to see what the
            average changes (both come from the same training, so no second run is needed).
    """
    if weights not in WEIGHTS:
        raise ConfigError(f"weights '{weights}' is not one of {', '.join(WEIGHTS)}")
    if Path(path).is_file():
        if detect_kind(Path(path)) is not None:
            if weights == "live":
                raise ConfigError(f"{shown(path)}: an exported model holds one set of weights; --weights live needs a run folder or checkpoint")
            return _load_exported_model(Path(path), device)
    file = find_model_checkpoint(path, which)
    state = load_checkpoint(file, map_location="cpu")
    cfg = checkpoint_config(state)
    method = state.get("method", cfg.model.method)
    in_ch, out_ch = (int(c) for c in state["channels"])
    generators: dict[str, nn.Module] = {}
    used = "live"
    for direction, key in method_class(method).generator_keys.items():
        if weights == "average" and f"{key}_ema" in state["networks"]:  # train.ema_decay > 0: the average is the model
            key, used = f"{key}_ema", "average"
        if key not in state["networks"]:
            continue
        channels = (in_ch, out_ch) if direction == "AtoB" else (out_ch, in_ch)
        net = method_class(method).inference_generator(cfg, *channels)
        try:
            net.load_state_dict(state["networks"][key])
        except RuntimeError as exc:
            raise CheckpointError(f"{shown(file)}: weights do not fit the configured {cfg.model.generator} ({str(exc).splitlines()[0]})") from None
        generators[direction] = net.to(device).eval()
    if not generators:
        raise CheckpointError(f"{shown(file)}: holds no generator weights")
    sampling = method_class(method).sampling
    encoder = None
    if sampling.encoder and sampling.encoder in state["networks"]:
        encoder = method_class(method).inference_encoder(cfg, out_ch)
        encoder.load_state_dict(state["networks"][sampling.encoder])
        encoder = encoder.to(device).eval()
    return LoadedModel(cfg, method, (in_ch, out_ch), generators, int(state.get("step", 0)), file,
                       input_palette=state.get("input_palette"), weights=used, sampling=sampling, encoder=encoder)


def _load_exported_model(path: Path, device: str | torch.device) -> LoadedModel:
    exported = load_exported(path)
    meta = exported.metadata
    cfg = resolve(Config.from_saved(meta["config"]))
    in_ch, out_ch = int(meta["input_channels"]), int(meta["output_channels"])
    direction = meta["direction"]
    channels = (in_ch, out_ch) if direction == "AtoB" else (out_ch, in_ch)
    net = exported.net if exported.kind == "onnx" else exported.net.to(device)
    # the method's way of sampling (an exported graph has no encoder, and runs dropout as its expectation:
    # Translator.check_samples says so for a model that samples through dropout)
    sampling = method_class(meta["method"]).sampling
    return LoadedModel(cfg, meta["method"], channels, {direction: net}, int(meta.get("step", 0)), path,
                       fixed_norm=norm_mode(meta["inference_norm"]), input_palette=meta.get("input_palette"),
                       sampling=sampling)


class FrozenGenerator(nn.Module):
    """A copy of a generator with its inference mode fixed at construction, for export: per-sample
    statistics (per_image) or running statistics (eval), dropout as its expectation. A generator taking a
    code z takes it as a second input (zeros, the prior's mean, when left out)."""

    def __init__(self, net: nn.Module, norm: str) -> None:
        super().__init__()
        self.net = freeze_inference_mode(net, norm, dropout=False)
        self.size_multiple = size_multiple(net)
        self.latent = latent_size(net)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x) if z is None else self.net(x, z)


class OnnxGenerator(nn.Module):
    """An ONNX file run by onnxruntime, callable like the generator it came from."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        ort = require("onnxruntime", "export", "running ONNX models")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [item.name for item in self.session.get_inputs()]  # the image, then z if it takes one

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        feed = {self.input_names[0]: x.detach().float().cpu().numpy()}
        if z is not None:
            feed[self.input_names[1]] = z.detach().float().cpu().numpy()
        (y,) = self.session.run(None, feed)
        return torch.from_numpy(np.asarray(y)).to(x.device)


@dataclass
class ExportedModel:
    net: nn.Module
    metadata: dict[str, Any]
    kind: str


def detect_kind(path: Path) -> str | None:
    """onnx / torchscript / weights for exported files; None for anything else (e.g. checkpoints)."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".safetensors" or _looks_like_safetensors(path):
        return "weights"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any("/code/" in name or name.startswith("code/") for name in archive.namelist()):
                return "torchscript"
    return None


def _looks_like_safetensors(path: Path) -> bool:
    """safetensors files start with the little-endian length of a JSON header."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
        size = struct.unpack("<Q", head[:8])[0]
        return len(head) == 9 and head[8:9] == b"{" and 0 < size < path.stat().st_size
    except (OSError, struct.error):
        return False


def load_exported(path: str | Path) -> ExportedModel:
    """Load an exported file with its metadata, ready to run."""
    path = Path(path)
    kind = detect_kind(path)
    try:
        if kind == "onnx":
            onnx = require("onnx", "export", "ONNX models")
            proto = onnx.load(str(path), load_external_data=False)
            meta = json.loads({p.key: p.value for p in proto.metadata_props}[META_KEY])
            net: nn.Module = OnnxGenerator(path)
        elif kind == "torchscript":
            extra = {f"{META_KEY}.json": ""}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
            meta = json.loads(extra[f"{META_KEY}.json"])
        elif kind == "weights":
            safetensors = require("safetensors", "export", "safetensors weights")
            with safetensors.safe_open(str(path), framework="pt") as fh:
                meta = json.loads(fh.metadata()[META_KEY])
                tensors = {key: fh.get_tensor(key) for key in fh.keys()}
            tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
            cfg = resolve(Config.from_saved(meta["config"]))
            generator = method_class(meta["method"]).inference_generator(cfg, meta["input_channels"], meta["output_channels"])
            generator.load_state_dict(tensors)
            net = FrozenGenerator(generator, norm_mode(meta["inference_norm"]))
        else:
            raise CheckpointError(f"{shown(path)}: not an exported pix2pix model (.onnx, TorchScript or .safetensors)")
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{shown(path)}: no pix2pix metadata inside (was it exported by pix2pix?)") from None
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file of a known kind
        raise CheckpointError(f"{shown(path)}: cannot load ({str(exc).splitlines()[0][:160]})") from None
    return ExportedModel(_Runner(net, int(meta["size_multiple"]), int(meta.get("latent", 0))).eval(), meta, kind)


class _Runner(nn.Module):
    """Gives any exported graph the generator interface (``size_multiple``, ``latent``, a device); a graph
    exported with a code z as its second input gets zeros (the prior's mean) when called without one."""

    def __init__(self, inner: nn.Module, multiple: int, latent: int = 0) -> None:
        super().__init__()
        self.inner, self.size_multiple, self.latent = inner, multiple, latent
        self.register_buffer("_device_marker", torch.zeros(0), persistent=False)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if not self.latent:
            return self.inner(x)
        if z is None:
            z = x.new_zeros(x.shape[0], self.latent)
        return self.inner(x, z)
