"""Export a trained generator: ONNX, TorchScript, or the weights alone (safetensors).

Exported graphs take float32 NCHW images in [-1, 1] (uint8 / 127.5 - 1) whose
height and width are multiples of ``size_multiple`` (any batch, any size), and
carry their metadata (direction, channels, normalisation, size multiple,
method, inference mode, training scale) inside the file, so ``translate`` and
``serve`` can run them like a run folder. ONNX cannot reproduce torch's seeded
dropout masks, so exported graphs run dropout as its expectation (identity);
normalisation follows the chosen inference mode exactly. A generator that takes a
latent code (a sampling method's) takes it as a second input, ``z`` (float32, (N, nz);
zeros are the prior's mean), and is checked against PyTorch with two codes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .data.io import atomic_write
from .errors import CheckpointError, ConfigError, require, shown
from .model_files import META_KEY, FrozenGenerator, LoadedModel, load_exported, load_model
from .models import latent_size, size_multiple
from .models.inference_context import checked_norm

FORMATS = ("onnx", "torchscript", "weights")


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
        "latent": latent_size(model.generators[direction]),
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
    PyTorch's on a random (2, C, 2m, 3m) input (m = size multiple); with a latent code,
    the larger difference over two random codes.
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
    norm = checked_norm(norm or model.config.inference.norm, "--norm")
    frozen = FrozenGenerator(model.generators[direction].cpu(), norm)
    meta = export_metadata(model, direction, norm)
    out = Path(out)
    m = frozen.size_multiple
    # 2 x 3 blocks: sizes of 1 would be specialised by the exporter and lose the dynamic shapes.
    draw = torch.Generator().manual_seed(0)
    probe = torch.rand(2, meta["input_channels"], 2 * m, 3 * m, generator=draw) * 2 - 1
    codes = [torch.randn(2, frozen.latent, generator=draw) for _ in range(2)] if frozen.latent else [None]
    inputs = (probe,) if codes[0] is None else (probe, codes[0])
    if out.is_dir():
        raise ConfigError(f"--out {shown(out)}: is a folder, expected a file name")
    if fmt == "onnx":
        _export_onnx(frozen, inputs, out, meta)
    elif fmt == "torchscript":
        _export_torchscript(frozen, inputs, out, meta)
    else:
        _export_weights(frozen.net, out, meta, fp16)
    exported = load_exported(out)
    diff = 0.0
    with torch.no_grad():
        for z in codes:
            expected, got = frozen(probe, z), exported.net(probe, z)
            diff = max(diff, float((got.float() - expected).abs().max()))
    return ExportResult(out, fmt, diff, meta)


def _export_onnx(frozen: FrozenGenerator, inputs: tuple[torch.Tensor, ...], out: Path, meta: dict[str, Any]) -> None:
    onnx = require("onnx", "export", "ONNX export")
    require("onnxscript", "export", "ONNX export")
    from torch.export import Dim

    m = frozen.size_multiple
    batch = Dim("batch", min=1, max=4096)
    dims: dict[str, Any] = {"x": {0: batch, 2: m * Dim("h_blocks", min=1, max=4096), 3: m * Dim("w_blocks", min=1, max=4096)}}
    if len(inputs) > 1:
        dims["z"] = {0: batch}
    names = ["image", "z"][: len(inputs)]
    buffer = io.BytesIO()
    chatter = io.StringIO()  # the exporter prints its progress; keep the CLI's output to our lines
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(frozen, inputs, None, dynamo=True, input_names=names,
                                        output_names=["output"], dynamic_shapes=dims, verbose=False)
        except Exception as exc:  # noqa: BLE001 - report the exporter's reason on one line
            raise CheckpointError(f"ONNX export failed: {exporter_reason(exc)}") from None
        finally:
            quiet.setLevel(level)
    program.save(buffer)
    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    data = proto.SerializeToString()
    atomic_write(out, lambda fh: fh.write(data))


def exporter_reason(exc: BaseException) -> str:
    """The first line of the innermost cause (the exporter wraps it in a banner of next steps), without
    terminal colour codes, at most 200 characters."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return f"{type(exc).__name__}: {(text.splitlines() or [''])[0][:200]}"


def _export_torchscript(frozen: FrozenGenerator, inputs: tuple[torch.Tensor, ...], out: Path, meta: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream but still what many runtimes load
        traced = torch.jit.trace(frozen, inputs, check_trace=False)
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
