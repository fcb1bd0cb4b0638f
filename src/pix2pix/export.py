"""Export a trained generator: ONNX, TorchScript, or the weights alone (safetensors).

Exported graphs take float32 NCHW images in [-1, 1] (uint8 / 127.5 - 1) whose
height and width are multiples of ``size_multiple`` (any batch, any size), and
carry their metadata (direction, channels, normalisation, size multiple,
method, inference mode, training scale) inside the file, so ``translate`` and
``serve`` can run them like a run folder. ONNX cannot reproduce torch's seeded
dropout masks, so exported graphs run dropout as its expectation (identity);
normalisation follows the chosen inference mode exactly.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import struct
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__
from .config import Config
from .data.io import atomic_write
from .errors import CheckpointError, ConfigError, require, shown
from .inference import LoadedModel, load_model
from .methods.base import generator_from_config
from .models import size_multiple
from .models.layers import BatchNorm2d

FORMATS = ("onnx", "torchscript", "weights")
META_KEY = "pix2pix"


class FrozenGenerator(nn.Module):
    """A generator with its inference mode baked in: per-sample statistics (paper) or running
    statistics (eval), dropout as its expectation."""

    def __init__(self, net: nn.Module, norm: str) -> None:
        super().__init__()
        self.net = net.eval()
        self.size_multiple = size_multiple(net)
        for module in net.modules():
            if isinstance(module, BatchNorm2d):
                module.per_sample = norm == "paper"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def export_metadata(model: LoadedModel, direction: str, norm: str) -> dict[str, Any]:
    in_ch, out_ch = model.channels_for(direction)
    cfg = model.config
    return {
        "format": "pix2pix-export",
        "version": __version__,
        "method": model.method,
        "direction": direction,
        "input_channels": in_ch,
        "output_channels": out_ch,
        "normalization": "float32 in [-1, 1] = uint8 / 127.5 - 1, NCHW",
        "size_multiple": size_multiple(model.generators[direction]),
        "inference_norm": norm,
        "dropout": "expectation",
        "step": model.step,
        "input_palette": model.input_palette if direction == "AtoB" else None,
        "config": cfg.to_dict(),
    }


@dataclass
class ExportResult:
    path: Path
    format: str
    max_diff: float
    metadata: dict[str, Any]


def export_model(
    run: str | Path,
    fmt: str,
    out: str | Path,
    *,
    which: str = "best",
    direction: str = "AtoB",
    norm: str | None = None,
    fp16: bool = False,
) -> ExportResult:
    """Write the generator to ``out`` and check the exported file against PyTorch on a test input.

    Returns the max absolute difference between the exported model's output and
    PyTorch's on a random (2, C, 2m, 3m) input (m = size multiple).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")
    wanted = {"onnx": ".onnx", "weights": ".safetensors"}.get(fmt)
    if wanted and Path(out).suffix.lower() != wanted:
        raise ConfigError(f"--out {shown(out)}: a {fmt} export must end in {wanted}")
    if fp16 and fmt != "weights":
        raise ConfigError("--fp16 applies to --format weights only")
    model = load_model(run, which)
    if direction not in model.generators:
        raise ConfigError(f"--direction: '{direction}' not available for a {model.method} model")
    norm = norm or model.config.inference.norm
    if norm not in ("paper", "eval"):
        raise ConfigError(f"--norm: '{norm}' is not one of paper, eval")
    frozen = FrozenGenerator(model.generators[direction].cpu(), norm)
    meta = export_metadata(model, direction, norm)
    out = Path(out)
    m = frozen.size_multiple
    # 2 x 3 blocks: sizes of 1 would be specialised by the exporter and lose the dynamic shapes.
    probe = torch.rand(2, meta["input_channels"], 2 * m, 3 * m, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        expected = frozen(probe)
    if out.is_dir():
        raise ConfigError(f"--out {shown(out)}: is a folder, expected a file name")
    if fmt == "onnx":
        _export_onnx(frozen, probe, out, meta)
    elif fmt == "torchscript":
        _export_torchscript(frozen, probe, out, meta)
    else:
        _export_weights(frozen.net, out, meta, fp16)
    exported = load_exported(out)
    with torch.no_grad():
        got = exported.net(probe)
    return ExportResult(out, fmt, float((got.float() - expected).abs().max()), meta)


def _export_onnx(frozen: FrozenGenerator, probe: torch.Tensor, out: Path, meta: dict[str, Any]) -> None:
    onnx = require("onnx", "export", "ONNX export")
    require("onnxscript", "export", "ONNX export")
    from torch.export import Dim

    m = frozen.size_multiple
    dims = {"x": {0: Dim("batch", min=1, max=4096), 2: m * Dim("h_blocks", min=1, max=4096), 3: m * Dim("w_blocks", min=1, max=4096)}}
    buffer = io.BytesIO()
    chatter = io.StringIO()  # the exporter prints its progress; keep the CLI's output to our lines
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(frozen, (probe,), None, dynamo=True, input_names=["image"],
                                        output_names=["output"], dynamic_shapes=dims, verbose=False)
        except Exception as exc:  # noqa: BLE001 - report the exporter's reason on one line
            raise CheckpointError(f"ONNX export failed: {str(exc).strip().splitlines()[0][:200]}") from None
        finally:
            quiet.setLevel(level)
    program.save(buffer)
    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    data = proto.SerializeToString()
    atomic_write(out, lambda fh: fh.write(data))


def _export_torchscript(frozen: FrozenGenerator, probe: torch.Tensor, out: Path, meta: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream but still what many runtimes load
        traced = torch.jit.trace(frozen, probe, check_trace=False)
        torch.jit.save(traced, buffer, _extra_files={f"{META_KEY}.json": json.dumps(meta)})
    atomic_write(out, lambda fh: fh.write(buffer.getvalue()))


def _export_weights(net: nn.Module, out: Path, meta: dict[str, Any], fp16: bool) -> None:
    safetensors = require("safetensors.torch", "export", "weights export")
    tensors = {}
    for key, value in net.state_dict().items():
        value = value.detach().cpu().contiguous()
        tensors[key] = value.half() if fp16 and value.is_floating_point() else value
    meta = dict(meta, weights_dtype="float16" if fp16 else "float32")
    data = safetensors.save(tensors, metadata={META_KEY: json.dumps(meta)})
    atomic_write(out, lambda fh: fh.write(data))


# ---------------------------------------------------------------------- loading exported files
class OnnxGenerator(nn.Module):
    """An ONNX file run by onnxruntime, callable like the generator it came from."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        ort = require("onnxruntime", "export", "running ONNX models")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (y,) = self.session.run(None, {self.input_name: x.detach().float().cpu().numpy()})
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
            cfg = Config.from_dict(meta["config"])
            generator = generator_from_config(cfg, meta["input_channels"], meta["output_channels"])
            generator.load_state_dict(tensors)
            net = FrozenGenerator(generator, meta["inference_norm"])
        else:
            raise CheckpointError(f"{shown(path)}: not an exported pix2pix model (.onnx, TorchScript or .safetensors)")
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{shown(path)}: no pix2pix metadata inside (was it exported by pix2pix?)") from None
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file of a known kind
        raise CheckpointError(f"{shown(path)}: cannot load ({str(exc).splitlines()[0][:160]})") from None
    return ExportedModel(_Runner(net, int(meta["size_multiple"])).eval(), meta, kind)


class _Runner(nn.Module):
    """Gives any exported graph the generator interface (``size_multiple``, a device)."""

    def __init__(self, inner: nn.Module, multiple: int) -> None:
        super().__init__()
        self.inner, self.size_multiple = inner, multiple
        self.register_buffer("_device_marker", torch.zeros(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)
