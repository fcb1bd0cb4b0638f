"""Run a trained generator on images of any size: the one code path for test, translate,
validation and serving.

    t = Translator.from_checkpoint("runs/facades")
    photo = t("label.png")          # PIL image / ndarray / path in, PIL image out
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from .config import Config
from .data.io import convert_channels, pil_to_array, read_image, to_pil
from .data.tensors import to_model_range, to_uint8
from .data.transforms import eval_resize, resize
from .errors import CheckpointError, ConfigError, ImageError, shown
from .methods import GENERATOR_KEYS
from .methods.base import generator_from_config
from .models import inference_mode, run_padded, size_multiple
from .models.padding import padding_for
from .tiling import run_tiled
from .training.checkpoint import checkpoint_config, find_model_checkpoint, load_checkpoint
from .runtime.compile import AutoCompiledRunner, resolve_compile
from .training.precision import Precision, resolve_inference_precision, select_device

ImageLike = Image.Image | np.ndarray | str | Path


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

    def channels_for(self, direction: str) -> tuple[int, int]:
        return self.channels if direction == "AtoB" else (self.channels[1], self.channels[0])


def load_model(path: str | Path, which: str = "best", device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the generator(s) of a run folder or checkpoint file.

    Args:
        path: run folder (uses ``checkpoints/best.pt``, else ``latest.pt``) or a checkpoint file.
        which: best or latest, for run folders.
    """
    if Path(path).is_file():
        from .export import detect_kind

        if detect_kind(Path(path)) is not None:
            return _load_exported_model(Path(path), device)
    file = find_model_checkpoint(path, which)
    state = load_checkpoint(file, map_location="cpu")
    cfg = checkpoint_config(state)
    method = state.get("method", cfg.model.method)
    in_ch, out_ch = (int(c) for c in state["channels"])
    generators: dict[str, nn.Module] = {}
    for direction, key in GENERATOR_KEYS.get(method, {}).items():
        if f"{key}_ema" in state["networks"]:  # train.ema_decay > 0: the weight average is the model
            key = f"{key}_ema"
        if key not in state["networks"]:
            continue
        channels = (in_ch, out_ch) if direction == "AtoB" else (out_ch, in_ch)
        net = generator_from_config(cfg, *channels)
        try:
            net.load_state_dict(state["networks"][key])
        except RuntimeError as exc:
            raise CheckpointError(f"{shown(file)}: weights do not fit the configured {cfg.model.generator} ({str(exc).splitlines()[0]})") from None
        generators[direction] = net.to(device).eval()
    if not generators:
        raise CheckpointError(f"{shown(file)}: holds no generator weights")
    return LoadedModel(cfg, method, (in_ch, out_ch), generators, int(state.get("step", 0)), file,
                       input_palette=state.get("input_palette"))


def _load_exported_model(path: Path, device: str | torch.device) -> LoadedModel:
    from .export import load_exported

    exported = load_exported(path)
    meta = exported.metadata
    cfg = Config.from_dict(meta["config"])
    in_ch, out_ch = int(meta["input_channels"]), int(meta["output_channels"])
    direction = meta["direction"]
    channels = (in_ch, out_ch) if direction == "AtoB" else (out_ch, in_ch)
    net = exported.net if exported.kind == "onnx" else exported.net.to(device)
    return LoadedModel(cfg, meta["method"], channels, {direction: net}, int(meta.get("step", 0)), path,
                       fixed_norm=meta["inference_norm"], input_palette=meta.get("input_palette"))


def module_device(net: nn.Module) -> torch.device:
    for tensor in [*net.parameters(), *net.buffers()][:1]:
        return tensor.device
    return torch.device("cpu")


def generate(
    net: nn.Module,
    images: torch.Tensor,
    *,
    norm: str = "paper",
    seed: int = 0,
    precision: Precision | None = None,
    tile_size: int = 0,
    runner: nn.Module | None = None,
) -> torch.Tensor:
    """uint8 (B, C, H, W) in -> uint8 (B, C_out, H, W) out, any H and W (padded internally).

    Images whose larger side exceeds ``tile_size`` (> 0) go through overlapping tiles.
    ``runner`` (e.g. a torch.compile'd ``net``) runs the untiled forward passes.
    """
    device = module_device(net)
    x = to_model_range(images.to(device, non_blocking=True))
    if precision is not None and precision.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = precision.autocast() if precision else torch.autocast(device.type, enabled=False)
    multiple = size_multiple(net)
    with inference_mode(net, norm, seed), autocast:
        if tile_size and max(x.shape[-2:]) > tile_size:
            y = torch.cat([run_tiled(net, x[i : i + 1], multiple, tile_size) for i in range(x.shape[0])])
        else:
            y = run_padded(net if runner is None else runner, x, multiple)
    return to_uint8(y).cpu()


def generate_arrays(
    net: nn.Module,
    arrays: Sequence[np.ndarray],
    *,
    norm: str = "paper",
    seed: int = 0,
    precision: Precision | None = None,
    batch_size: int = 8,
    tile_size: int = 0,
    runner: nn.Module | None = None,
) -> list[np.ndarray]:
    """(H, W, C) uint8 arrays in, generator outputs out; arrays of one shape share a batch
    (larger than ``tile_size``: one at a time, through tiles)."""
    outputs: list[np.ndarray | None] = [None] * len(arrays)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, array in enumerate(arrays):
        by_shape.setdefault(array.shape, []).append(index)
    for indices in by_shape.values():
        step = 1 if tile_size and max(arrays[indices[0]].shape[:2]) > tile_size else batch_size
        for start in range(0, len(indices), step):
            chunk = indices[start : start + step]
            batch = torch.from_numpy(np.stack([arrays[i] for i in chunk])).permute(0, 3, 1, 2)
            result = generate(net, batch, norm=norm, seed=seed, precision=precision, tile_size=tile_size, runner=runner)
            for i, out in zip(chunk, result.permute(0, 2, 3, 1).numpy()):
                outputs[i] = np.ascontiguousarray(out)
    return outputs  # type: ignore[return-value]


def as_array(image: ImageLike) -> np.ndarray:
    """PIL image, (H, W[, C]) array or file path -> (H, W, C) uint8; alpha is kept here and
    dropped (composited on white) only if the model has no alpha input."""
    if isinstance(image, (str, Path)):
        return read_image(image, keep_alpha=True)
    if isinstance(image, Image.Image):
        return pil_to_array(image)
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
            raise ImageError("<array>", f"expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {image.shape}")
        if array.dtype != np.uint8:
            if np.issubdtype(array.dtype, np.floating) and array.size and float(np.nanmax(array)) <= 1.0:
                array = np.round(np.nan_to_num(array) * 255.0)
            array = np.clip(array, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(array)
    raise ImageError(repr(type(image).__name__), "expected a PIL image, a numpy array or a file path")


class Translator:
    """A trained generator, ready to translate images of any size.

    Args:
        model: from ``load_model``.
        direction: AtoB (the trained direction) or, for CycleGAN, BtoA.
        device: auto, cpu or cuda.
        norm: paper or eval (default: the run's ``inference.norm``).
        seed: dropout seed in paper mode (default: the run's ``inference.seed``).
        precision: auto, fp32, bf16 or fp16 (fp16 on CUDA only). Default: the run's
            ``inference.precision`` (auto: bf16 where the hardware has it natively).
        scale: train (resize to the training scale and back) or native.
        tile_size: images whose larger side exceeds this go through overlapping
            tiles (memory bounded by the tile); 0 never tiles. Default: the run's.
        channels_last: NHWC layout (default: on with CUDA or reduced precision).
        compile: True, False or "auto" (default: the run's ``inference.compile``,
            auto): torch.compile the generator where the images that follow repay
            the compile time (see ``pix2pix.runtime.compile``).
        expected_images: how many images will be translated, when known: lets
            ``compile="auto"`` decide at the first call instead of after several.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        direction: str = "AtoB",
        device: str = "auto",
        norm: str | None = None,
        seed: int | None = None,
        precision: str | None = None,
        scale: str | None = None,
        tile_size: int | None = None,
        channels_last: bool | None = None,
        compile: bool | str | None = None,
        expected_images: int | None = None,
    ) -> None:
        if direction not in model.generators:
            raise ConfigError(f"--direction: '{direction}' not available for a {model.method} model (valid: {', '.join(model.generators)})")
        inference = model.config.inference
        self.model = model
        self.direction = direction
        self.device = select_device(device)
        if model.fixed_norm is not None and norm is not None and norm != model.fixed_norm:
            raise ConfigError(f"--norm {norm}: this exported model runs in '{model.fixed_norm}' mode, fixed at export")
        self.norm = model.fixed_norm or norm or inference.norm
        self.seed = inference.seed if seed is None else seed
        self.scale = scale or inference.scale
        self.tile_size = inference.tile_size if tile_size is None else tile_size
        if self.norm not in ("paper", "eval"):
            raise ConfigError(f"inference.norm: '{self.norm}' is not one of paper, eval")
        # Exported graphs keep their own normalisation: run them as they are. A graph that
        # normalises per sample cannot take whole-image statistics from tiles, so it is not tiled.
        self.run_mode = "frozen" if model.fixed_norm else self.norm
        if model.fixed_norm == "paper" and model.path.suffix.lower() != ".safetensors":
            self.tile_size = 0
        if self.scale not in ("train", "native"):
            raise ConfigError(f"inference.scale: '{self.scale}' is not one of train, native")
        self.net = model.generators[direction].to(self.device)
        exported_graph = model.fixed_norm is not None and model.path.suffix.lower() != ".safetensors"
        kind = resolve_inference_precision(precision or inference.precision, self.device)
        if exported_graph:
            kind = "fp32"  # an exported graph runs as it was exported
        if channels_last is None:  # decided after "auto" is resolved: bf16 runs faster in NHWC
            channels_last = self.device.type == "cuda" or kind != "fp32"
        channels_last = channels_last and not exported_graph
        self.precision = Precision(kind, self.device, channels_last)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        setting = "false" if exported_graph else resolve_compile(compile if compile is not None else inference.compile)
        self.runner = AutoCompiledRunner(self.net, self.device, setting, kind, expected_images)
        self.in_channels, self.out_channels = model.channels_for(direction)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, which: str = "best", **options: Any) -> "Translator":
        """Load a run folder or checkpoint file (see ``load_model``) and wrap it."""
        return cls(load_model(path, which), **options)

    def __call__(self, image: ImageLike) -> Image.Image:
        return self.batch([image])[0]

    def batch(self, images: Sequence[ImageLike], batch_size: int = 8) -> list[Image.Image]:
        """Translate several images; images of equal prepared size share a forward pass."""
        return [to_pil(a) for a in self.translate_arrays(list(images), batch_size)]

    def prepare(self, array: np.ndarray) -> np.ndarray:
        """Convert to the model's input channels and resize to the training scale."""
        array = convert_channels(array, self.in_channels)
        return eval_resize(array, self.model.config.data) if self.scale == "train" else array

    def warm_up(self, batch_sizes: Sequence[int] = (1,)) -> None:
        """Compile (unless compiling is off) and run once at the training size for each batch size,
        so that the first real requests of that size run at full speed."""
        if self.runner.setting == "false":
            return
        crop = self.model.config.data.crop_size
        image = self.prepare(np.zeros((crop, crop, self.in_channels), dtype=np.uint8))
        multiple = size_multiple(self.net)
        extra_h, extra_w = padding_for(image.shape[0], image.shape[1], multiple)
        for batch in batch_sizes:
            self.runner.approve((batch, self.in_channels, image.shape[0] + extra_h, image.shape[1] + extra_w))
            self.translate_arrays([image] * batch, batch_size=batch)

    def translate_arrays(self, arrays: Sequence[ImageLike], batch_size: int = 8) -> list[np.ndarray]:
        """Images (arrays, PIL images or paths) in, (H, W, C_out) uint8 arrays of the same sizes out."""
        arrays = [as_array(a) for a in arrays]
        outputs = generate_arrays(
            self.net, [self.prepare(a) for a in arrays], norm=self.run_mode, seed=self.seed,
            precision=self.precision, batch_size=batch_size, tile_size=self.tile_size, runner=self.runner,
        )
        return [resize(out, *array.shape[:2]) for out, array in zip(outputs, arrays)]


def iter_image_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (their images, not recursive) into one list of files."""
    from .data.layout import list_images

    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            listing = list_images(path)
            files += listing.images
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            raise ImageError(path, "no such file or folder")
    return files
