"""Run a trained generator on images of any size: the one code path for test, translate,
validation and serving.

    t = Translator.from_checkpoint("runs/facades")
    photo = t("label.png")          # PIL image / ndarray / path in, PIL image out
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from .data.io import convert_channels, pil_to_array, read_image, to_pil
from .data.photos import NATIVE_SCALE_TASKS, derive, inpainting_input, path_seed, upscale
from .data.tensors import to_model_range
from .data.transforms import eval_resize, resize
from .errors import ConfigError, ImageError
from .model_files import LoadedModel, load_model
from .models import size_multiple
from .models.inference_context import checked_norm
from .models.padding import padding_for
from .runtime.compile import AutoCompiledRunner, resolve_compile
from .runtime.cpu_kernels import use_matmul_convolutions
from .runtime.generate import generate_arrays
from .runtime.precision import Autocast, resolve_inference_precision, select_device

__all__ = ["ImageLike", "LoadedModel", "Translator", "as_array", "generate_arrays", "iter_image_files", "load_model",
           "sample_seed"]

ImageLike = Image.Image | np.ndarray | str | Path
MAX_SAMPLES = 64  # pictures per input: translate --samples


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


def _device_of(net: torch.nn.Module) -> torch.device | None:
    first = next(iter(net.parameters()), None)
    return first.device if first is not None else None


def own_copy(net: torch.nn.Module, share_weights: bool) -> torch.nn.Module:
    """A copy of ``net``'s modules for a Translator to change (kernel classes, device, memory format);
    with ``share_weights`` its parameters and buffers are the caller's own tensors, not copies."""
    memo = {id(t): t for t in itertools.chain(net.parameters(), net.buffers())} if share_weights else {}
    return copy.deepcopy(net, memo)


class Translator:
    """A trained generator, ready to translate images of any size.

    Args:
        model: from ``load_model``.
        direction: AtoB (the trained direction) or, for CycleGAN, BtoA.
        device: auto, cpu or cuda.
        norm: per_image or eval (default: the run's ``inference.norm``).
        seed: dropout seed in per_image mode (default: the run's ``inference.seed``).
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
        norm = checked_norm(norm, "inference.norm") if norm is not None else None
        if model.fixed_norm is not None and norm is not None and norm != model.fixed_norm:
            raise ConfigError(f"--norm {norm}: this exported model runs in '{model.fixed_norm}' mode, fixed at export")
        self.norm = model.fixed_norm or norm or inference.norm
        self.seed = inference.seed if seed is None else seed
        self.scale = scale or inference.scale
        if model.config.data.task in NATIVE_SCALE_TASKS:
            self.scale = "native"  # restoring pixels: the photo's own resolution (superres: times scale_factor)
        self.tile_size = inference.tile_size if tile_size is None else tile_size
        # Exported graphs keep their own normalisation: run them as they are. A graph that
        # normalises per sample cannot take whole-image statistics from tiles, so it is not tiled.
        self.run_mode = "frozen" if model.fixed_norm else self.norm
        if model.fixed_norm == "per_image" and model.path.suffix.lower() != ".safetensors":
            self.tile_size = 0
        if self.scale not in ("train", "native"):
            raise ConfigError(f"inference.scale: '{self.scale}' is not one of train, native")
        source = model.generators[direction]
        exported_graph = model.fixed_norm is not None and model.path.suffix.lower() != ".safetensors"
        kind = resolve_inference_precision(precision or inference.precision, self.device)
        if exported_graph:
            kind = "fp32"  # an exported graph runs as it was exported
        if channels_last is None:  # decided after "auto" is resolved: bf16 runs faster in NHWC
            channels_last = self.device.type == "cuda" or kind != "fp32"
        channels_last = channels_last and not exported_graph
        self.precision = Autocast(kind, self.device, channels_last)
        if exported_graph:
            self.net = source.to(self.device)
        else:  # the runtime's changes below must never reach the caller's own model
            self.net = own_copy(source, share_weights=not channels_last and _device_of(source) == self.device)
            self.net = self.net.to(self.device)
        if self.device.type == "cpu" and not exported_graph:
            use_matmul_convolutions(self.net, per_sample=True)  # the runtime's CPU kernel choice, batch-independent
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        setting = "false" if exported_graph else resolve_compile(compile if compile is not None else inference.compile)
        self.runner = AutoCompiledRunner(self.net, self.device, setting, kind, expected_images, mode=self.run_mode,
                                         seed=self.seed)
        self.in_channels, self.out_channels = model.channels_for(direction)
        self.label_maps = model.config.model.output_palette != "none"  # outputs of class colours: resized nearest
        self.encoder = None  # photo -> its code, for style_code
        if model.encoder is not None:
            self.encoder = own_copy(model.encoder, share_weights=_device_of(model.encoder) == self.device)
            self.encoder = self.encoder.to(self.device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, which: str = "best", weights: str = "average",
                        **options: Any) -> "Translator":
        """Load a run folder or checkpoint file (see ``load_model``) and wrap it."""
        return cls(load_model(path, which, weights=weights), **options)

    def __call__(self, image: ImageLike) -> Image.Image:
        return self.batch([image])[0]

    def batch(self, images: Sequence[ImageLike], batch_size: int = 8) -> list[Image.Image]:
        """Translate several images; images of equal prepared size share a forward pass."""
        return [to_pil(a) for a in self.translate_arrays(list(images), batch_size)]

    def task_input(self, array: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """What a user has -> what the model's task takes (``data.task``): for superres the low-resolution
        image upscaled (bicubic) by ``scale_factor``; for inpainting the photo with its holes, from
        ``mask`` (H, W) or the transparent pixels of an RGBA image, and the mask as a fourth channel."""
        data = self.model.config.data
        if data.task == "superres":
            return upscale(convert_channels(array, 3), data.scale_factor)
        if data.task == "inpainting":
            if mask is None and array.shape[2] == 4:
                mask = array[:, :, 3] < 128  # transparent pixels are the holes
            if mask is None:
                raise ConfigError("inpainting needs the holes: an RGBA image whose transparent pixels are the holes, "
                                  "a mask (translate --mask FILE), or --derive-input to draw some")
            if mask.shape != array.shape[:2]:
                raise ImageError("<mask>", f"the mask is {mask.shape[1]}x{mask.shape[0]} but the photo "
                                           f"{array.shape[1]}x{array.shape[0]}: they must have the same size")
            return inpainting_input(convert_channels(array, 3), mask)
        return array

    def derived_input(self, photo: ImageLike, key: str) -> np.ndarray:
        """The task's input made from a full photo, as for a held-out one (the masks or noise drawn from
        ``key``, e.g. the file name): ``--derive-input``, for demonstrations. Translate it with ``prepared=True``."""
        data = self.model.config.data
        if data.task == "paired":
            raise ConfigError("--derive-input makes a photo task's input from a photo; this model was trained on pairs")
        inp, _ = derive(data.task, convert_channels(as_array(photo), 3), data, np.random.default_rng(path_seed(key)))
        return inp

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

    def translate_arrays(self, arrays: Sequence[ImageLike], batch_size: int = 8, *, prepared: bool = False,
                         masks: Sequence[np.ndarray | None] | None = None,
                         latent: torch.Tensor | None = None) -> list[np.ndarray]:
        """Images (arrays, PIL images or paths) in, (H, W, C_out) uint8 arrays of the same sizes out (for
        superres ``scale_factor`` times larger). ``prepared``: the inputs already are the task's (a test
        split's derived inputs); ``masks``: inpainting holes, one per image; ``latent``: the code z (1, nz)
        for a generator that takes one (``style_code``), else the prior's mean."""
        arrays = self._task_arrays(arrays, prepared, masks)
        outputs = self._generate([self.prepare(a) for a in arrays], batch_size, self.seed, self.runner, latent)
        return [resize(out, *array.shape[:2], nearest=self.label_maps) for out, array in zip(outputs, arrays)]

    def check_samples(self, k: int, option: str = "--samples") -> None:
        """A ConfigError naming ``option`` unless this model gives ``k`` different pictures per input."""
        if not 1 <= k <= MAX_SAMPLES:
            raise ConfigError(f"{option}: {k} is not between 1 and {MAX_SAMPLES}")
        source = self.model.sampling.source
        if source == "latent" and self.model.latent:
            return
        if source != "dropout":
            raise ConfigError(f"{option}: a {self.model.method} model gives one picture per input (no latent code, "
                              "no dropout to sample)")
        if self.run_mode == "frozen":
            raise ConfigError(f"{option}: this exported model runs dropout as its expectation, so its pictures do "
                              "not vary; sample from the run folder")
        if self.norm != "per_image":
            raise ConfigError(f"{option}: in eval mode the generator has no noise (dropout is off); sample with "
                              "--norm per_image")
        if not self.model.config.model.dropout:
            raise ConfigError(f"{option}: this model was trained without dropout (model.dropout=0), so its "
                              "pictures do not vary")

    def sample_arrays(self, arrays: Sequence[ImageLike], k: int, seed: int | None = None, batch_size: int = 8, *,
                      prepared: bool = False, masks: Sequence[np.ndarray | None] | None = None) -> list[list[np.ndarray]]:
        """``k`` pictures per image, as the model's ``sampling`` says: a code z ~ N(0, I) per sample, or a
        dropout seed per sample (per_image mode). Sample j comes from ``seed`` and j alone: the same for every
        image and any ``k``, and the same seed gives the same pictures (default seed: ``inference.seed``)."""
        self.check_samples(k)
        seed = self.seed if seed is None else seed
        arrays = self._task_arrays(arrays, prepared, masks)
        inputs = [self.prepare(a) for a in arrays]
        samples = []
        for j in range(k):
            own = sample_seed(seed, j)
            if self.model.sampling.source == "latent":
                code = torch.randn(1, self.model.latent, generator=torch.Generator().manual_seed(own))
                samples.append(self._generate(inputs, batch_size, self.seed, self.runner, code))
            else:  # the compiled runner has its own dropout seed fixed in it: this runs the network itself
                samples.append(self._generate(inputs, batch_size, own, None, None))
        return [[resize(sample[i], *array.shape[:2], nearest=self.label_maps) for sample in samples] for i, array in enumerate(arrays)]

    def sample(self, image: ImageLike, k: int, seed: int | None = None) -> list[Image.Image]:
        """``k`` different pictures for one image (see ``sample_arrays``)."""
        return [to_pil(a) for a in self.sample_arrays([image], k, seed)[0]]

    def style_code(self, photo: ImageLike) -> torch.Tensor:
        """The code z (1, nz) of an example photo of the output kind (the encoder's mean): translating with it
        takes that photo's colours and materials (``translate --z-from``)."""
        if self.encoder is None:
            raise ConfigError("--z-from: this model has no encoder of example photos (a run folder or checkpoint of "
                              "a latent-code method has one; exported files do not)")
        image = eval_resize(convert_channels(as_array(photo), self.out_channels), self.model.config.data)
        x = to_model_range(torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].to(self.device))
        with torch.no_grad():
            mu, _ = self.encoder(x)
        return mu.float().cpu()

    def _task_arrays(self, arrays: Sequence[ImageLike], prepared: bool,
                     masks: Sequence[np.ndarray | None] | None) -> list[np.ndarray]:
        arrays = [as_array(a) for a in arrays]
        if prepared:
            return arrays
        return [self.task_input(a, m) for a, m in zip(arrays, masks or [None] * len(arrays))]

    def _generate(self, inputs: list[np.ndarray], batch_size: int, seed: int, runner: Any,
                  latent: torch.Tensor | None) -> list[np.ndarray]:
        return generate_arrays(self.net, inputs, norm=self.run_mode, seed=seed, precision=self.precision,
                               batch_size=batch_size, tile_size=self.tile_size, runner=runner, latent=latent)


def sample_seed(seed: int, index: int) -> int:
    """Sample ``index``'s own seed, drawn from the base ``seed``: reproducible, and unrelated to base seed + 1's."""
    return int(np.random.SeedSequence([seed % 2**64, index]).generate_state(1)[0])  # any int, negative ones too


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


def read_mask(path: str | Path) -> np.ndarray:
    """An inpainting mask file: (H, W) bool, True (white, > 127) where the holes are."""
    return convert_channels(read_image(path), 1)[:, :, 0] > 127


def mask_for(mask: str | Path | None, image_path: Path) -> np.ndarray | None:
    """``--mask``: one file for every input, or a folder holding NAME.png (any image type) per input NAME."""
    if mask is None:
        return None
    mask = Path(mask)
    if mask.is_dir():
        found = sorted(p for p in mask.glob(f"{image_path.stem}.*") if p.is_file())
        if not found:
            raise ImageError(mask / f"{image_path.stem}.png", f"no mask for {image_path.name} in this folder")
        return read_mask(found[0])
    return read_mask(mask)
