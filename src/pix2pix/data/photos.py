"""Photo tasks: a folder of photos is the data, and each task makes the input from the photo.

``data.task`` (colorization, inpainting, superres, denoise, edges) turns every
photo, after the usual jitter, into an (input, target) pair: the target is the
photo, the input what the task derives from it. Training draws masks and noise
from the sample's (seed, epoch, index) generator; held-out inputs (validation,
test, ``--derive-input``) from a seed made from the file's relative path, so
every evaluation of every run sees the same inputs.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

from ..config import DataConfig
from ..errors import ConfigError, DataError, require, shown
from .io import convert_channels
from .io import probe_image
from .layout import ALL_SPLIT, detect_layout
from .sources import PairSource, SourceReport
from .tensors import to_chw_uint8
from .transforms import PairTransform, eval_resize, resize
from .unpaired import FileImages, ImageSource, SideReport

PHOTO_TASKS = ("colorization", "inpainting", "superres", "denoise", "edges")
# Restoration tasks run at the photo's own resolution, whatever inference.scale says.
NATIVE_SCALE_TASKS = ("inpainting", "superres", "denoise")
def input_channels(task: str) -> int:
    """Channels of the model's input for a photo task (the output is the RGB photo)."""
    return {"colorization": 1, "inpainting": 4, "edges": 1}.get(task, 3)


def path_seed(key: str) -> int:
    """A seed from a file's relative path: the same held-out input in every run and evaluation."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()[:8], "little")


# ---------------------------------------------------------------------- the derivations
def grey(photo: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W, 1) luminance (ITU-R 601, as PIL's "L"; the same conversion as a grey input's)."""
    return convert_channels(photo, 1)


def random_mask(height: int, width: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """(H, W) bool holes: rectangles and free-form strokes until a coverage drawn in [low, high] is reached."""
    target = rng.uniform(low, high)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(200):
        if np.count_nonzero(np.asarray(canvas)) >= target * height * width:
            break
        if rng.random() < 0.5:  # a rectangle of 5-30% of each side
            w, h = (int(rng.uniform(0.05, 0.3) * s) + 1 for s in (width, height))
            x, y = int(rng.integers(0, max(1, width - w))), int(rng.integers(0, max(1, height - h)))
            draw.rectangle([x, y, x + w, y + h], fill=255)
        else:  # a stroke: a few connected thick segments
            x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
            thickness = max(2, int(rng.uniform(0.02, 0.06) * min(width, height)))
            for _ in range(int(rng.integers(2, 6))):
                angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.3) * min(width, height)
                nx, ny = x + np.cos(angle) * length, y + np.sin(angle) * length
                draw.line([x, y, nx, ny], fill=255, width=thickness)
                draw.ellipse([nx - thickness / 2, ny - thickness / 2, nx + thickness / 2, ny + thickness / 2], fill=255)
                x, y = nx, ny
    return np.asarray(canvas) > 0


def inpainting_input(photo: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, 4): the photo with its holes grey, and the mask (255 in the holes) as a fourth channel."""
    holed = photo[:, :, :3].copy()
    holed[mask] = 127
    return np.concatenate([holed, (mask * 255).astype(np.uint8)[:, :, None]], axis=2)


def mask_of(inp: np.ndarray) -> np.ndarray:
    """The (H, W) bool holes of an inpainting input."""
    return inp[:, :, 3] > 127


def viewable_input(task: str, inp: np.ndarray) -> np.ndarray:
    """A model input as a picture: for inpainting the holed photo (its 4th channel is the mask, not alpha)."""
    return inp[:, :, :3] if task == "inpainting" else inp


def downscale(photo: np.ndarray, factor: int) -> np.ndarray:
    """PIL bicubic downscale by ``factor`` (the super-resolution input before upscaling)."""
    height, width = photo.shape[:2]
    if height % factor or width % factor:
        raise DataError(f"image size {width}x{height} is not divisible by data.scale_factor={factor}")
    return resize(photo, height // factor, width // factor)


def upscale(image: np.ndarray, factor: int, method: int = Image.BICUBIC) -> np.ndarray:
    """PIL upscale by ``factor`` (bicubic: what the generator gets; Lanczos: a baseline)."""
    height, width = image.shape[:2]
    img = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    out = np.asarray(img.resize((width * factor, height * factor), method), dtype=np.uint8)
    return out[:, :, None] if out.ndim == 2 else out


def noise_sigma(cfg: DataConfig, rng: np.random.Generator) -> float:
    values = [float(v) for v in cfg.noise_sigma.split("-")]
    return values[0] if len(values) == 1 else float(rng.uniform(values[0], values[1]))


def degrade(photo: np.ndarray, cfg: DataConfig, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise (0-255 units, clipped) and/or JPEG artifacts, as configured."""
    out = photo
    sigma = noise_sigma(cfg, rng)
    if sigma > 0:
        out = np.clip(out.astype(np.float32) + rng.normal(0, sigma, out.shape), 0, 255).round().astype(np.uint8)
    if cfg.jpeg_quality:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="JPEG", quality=cfg.jpeg_quality)
        out = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.uint8)
    return out


def edges(photo: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """(H, W, 1): Canny edges (scikit-image) of the grey photo, black lines on white (as edges2shoes)."""
    feature = require("skimage.feature", "tasks", "the edges task (Canny)")
    found = feature.canny(grey(photo)[:, :, 0] / 255.0, sigma=cfg.canny_sigma, low_threshold=cfg.canny_low,
                          high_threshold=cfg.canny_high, use_quantiles=True)
    return np.where(found, 0, 255).astype(np.uint8)[:, :, None]


def derive(task: str, photo: np.ndarray, cfg: DataConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) for one photo (H, W, 3) uint8."""
    photo = photo[:, :, :3] if photo.shape[2] >= 3 else np.repeat(photo, 3, axis=2)
    if task == "colorization":
        return grey(photo), photo
    if task == "inpainting":
        return inpainting_input(photo, random_mask(*photo.shape[:2], rng, cfg.mask_min, cfg.mask_max)), photo
    if task == "superres":
        return upscale(downscale(photo, cfg.scale_factor), cfg.scale_factor), photo
    if task == "denoise":
        return degrade(photo, cfg, rng), photo
    if task == "edges":
        return edges(photo, cfg), photo
    raise ConfigError(f"data.task: unknown task '{task}' (valid: paired, {', '.join(PHOTO_TASKS)})")


# ---------------------------------------------------------------------- the data
def open_photos(data: str | Path, split: str, cfg: DataConfig, decode: str = "auto", progress: bool = True) -> ImageSource:
    """The photos of one split: a flat folder (every split), train/val/test sub-folders, one half of an
    aligned A|B set (``data.photo_side``), or one side of A/B folders."""
    layout = detect_layout(data)
    files = layout.split(split)
    half = {"A": 0, "B": 1}.get(cfg.photo_side)
    if layout.kind == "folders":
        if half is None:
            raise DataError(f"{shown(data)}: has A/B folders; a photo task takes one side: set data.photo_side=A or B")
        paths, name = (files.a, files.a_dir) if half == 0 else (files.b, files.b_dir)
        source = FileImages(list(paths), SideReport(name.name if name else files.name, problems=list(files.problems),
                                                    skipped=list(files.skipped)))
    else:
        label = files.name if half is None else f"{files.name} ({cfg.photo_side} halves)"
        source = FileImages(list(files.aligned), SideReport(label, problems=list(files.problems), skipped=list(files.skipped)), half)
    total = source.probe()
    source.channels = 3
    if half is None and source.report.sizes and all(w == 2 * h for (w, h) in source.report.sizes):
        print(f"warning: every image in {shown(data)} is exactly twice as wide as high, like an A|B pair; "
              "set data.photo_side=A or B to take one half as the photo", file=sys.stderr)
    if decode == "check" or (decode == "auto" and total <= cfg.cache_mb * 2**20):
        source.decode_all(keep=decode == "auto", progress=progress)
    return source


class PhotoTaskDataset(Dataset):
    """Training items {"input", "target", "index"}: the photo jittered, then the task's input made from it."""

    def __init__(self, source: ImageSource, transform: PairTransform, cfg: DataConfig, seed: int) -> None:
        self.source, self.transform, self.cfg, self.seed = source, transform, cfg, seed

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, item: int) -> dict[str, object]:
        epoch, index = divmod(int(item), len(self.source))
        rng = np.random.default_rng([self.seed, epoch, index])
        (photo,) = self.transform.apply([self.source.load(index)], rng)
        inp, target = derive(self.cfg.task, photo, self.cfg, rng)
        return {"input": to_chw_uint8(inp), "target": to_chw_uint8(target), "index": index}


class HeldOutPairs(PairSource):
    """(input, target) pairs of held-out photos at the test-time scale, the input drawn from a seed made
    from each file's path: validation and ``pix2pix test`` see the same inputs every time."""

    def __init__(self, photos: ImageSource, cfg: DataConfig) -> None:
        self.photos, self.cfg = photos, cfg
        self.channels = (input_channels(cfg.task), 3)
        side = photos.report
        self.report = SourceReport(side.name, side.sizes, ({3}, {3}), side.problems, side.skipped)

    def __len__(self) -> int:
        return len(self.photos)

    def key(self, index: int) -> str:
        return self.photos.key(index)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        photo = eval_resize(self.photos.load(index), self.cfg)
        return derive(self.cfg.task, photo, self.cfg, np.random.default_rng(path_seed(self.key(index))))


def photo_counts(source: ImageSource) -> str:
    """'N photos, sizes ...' for check-data."""
    sizes = Counter(source.report.sizes)
    common = ", ".join(f"{w}x{h}" + (f" ({n})" if len(sizes) > 1 else "") for (w, h), n in sizes.most_common(3))
    return f"{len(source)} photos, {common or 'no readable image'}"


def refuse_photo_folder(data: str | Path) -> None:
    """Paired training on a flat folder of single photos: say what is missing, and the likely intent."""
    if str(data).startswith("demo:"):
        return
    layout = detect_layout(data)
    if layout.kind != "aligned" or set(layout.splits) != {ALL_SPLIT}:
        return
    files = layout.splits[ALL_SPLIT].aligned[:20]
    sizes = []
    for path in files:
        try:
            info = probe_image(path)
        except DataError:
            continue
        sizes.append((info.width, info.height))
    if sizes and not any(w == 2 * h for w, h in sizes):
        raise DataError(
            f"{shown(data)}: a flat folder of single images, no A|B pairs (no file is twice as wide as high) and no "
            f"A/B folders; paired training needs pairs. To learn from photos alone use a photo task, "
            f"e.g. --task colorization ({', '.join(PHOTO_TASKS)})"
        )


def open_task_pairs(data: str | Path, split: str, cfg: DataConfig, decode: str = "auto") -> PairSource:
    """A split's (input, target) pairs for the configured task: from the data (paired), or made from its photos."""
    from .sources import open_pairs

    if cfg.task == "paired":
        return open_pairs(data, split, cfg, decode)
    return HeldOutPairs(open_photos(data, split, cfg, decode), cfg)
