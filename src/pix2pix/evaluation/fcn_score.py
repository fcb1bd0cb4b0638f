"""The FCN-score: how well a segmenter trained on real photos reads generated photos (pix2pix paper, sec. 4.2).

A generated photo that looks real should be segmented as its label map says. The
judge is a segmenter (a small U-Net with linear class logits) trained on the real
training photos of the data set against their label maps, read through the data
set's palette (each label-map pixel takes the class of its nearest palette
colour). It never sees the test split. It is trained once per data set with a
fixed recipe (fp32, a set seed, a fixed number of steps), outside any budget, and
cached in a folder named by the hash of what it was trained on, so that every
scoring of that data set uses the same judge.

The real test photos through the same segmenter give the ceiling; the same photos
blurred (Gaussian, sigma 2 px) show how much the judge punishes a blur; the
majority-class rate is the floor a constant guess reaches. The segmenter is a
judge only: no loss term may use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from tqdm import tqdm

from ..config import DataConfig
from ..data.sources import open_pairs
from ..data.transforms import resize
from ..errors import ConfigError, DataError, shown
from ..models.generators import UNet
from ..data.io import atomic_write
from .segmentation import Palette, load_palette, segmentation_scores

BLUR_SIGMA = 2.0  # px, at the segmenter's size: the blur whose drop is reported beside the ceiling


@dataclass(frozen=True)
class SegmenterRecipe:
    """The fixed training recipe. Changing any field names a new segmenter (its hash changes)."""

    size: int = 128  # photos and label maps resized to size x size (the benchmark's size)
    steps: int = 1500  # 7.2 minutes on a 2-core Xeon (benchmarks/results/fcn_judge_facades_xeon.json)
    batch_size: int = 8
    lr: float = 2e-3  # Adam; cosine decay to 0 over the steps
    ngf: int = 32
    seed: int = 0
    flip: bool = True


FULL = SegmenterRecipe()
QUICK = SegmenterRecipe(size=64, steps=40, batch_size=4, ngf=8)  # plumbing checks only


def default_cache() -> Path:
    """~/.cache/pix2pix/segmenters (or $XDG_CACHE_HOME/pix2pix/segmenters)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pix2pix" / "segmenters"


def _unet(recipe: SegmenterRecipe, classes: int) -> UNet:
    depth = int(np.log2(recipe.size))  # down to 1x1, as the generators
    return UNet(in_channels=3, out_channels=classes, depth=depth, ngf=recipe.ngf, norm="batch", dropout=0.0,
                upsample="resize_conv", out_activation="none")


def _to_tensor(photos: Sequence[np.ndarray]) -> torch.Tensor:
    x = torch.from_numpy(np.stack([p[:, :, :3] for p in photos])).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1  # (B, 3, H, W) in [-1, 1]


def class_map(palette: Palette, label_map: np.ndarray, size: int) -> np.ndarray:
    """(size, size) class indices: the palette read at the label map's own size, then nearest-resized."""
    classes = palette.classify(label_map[:, :, :3]).astype(np.uint8)
    if classes.shape != (size, size):
        classes = np.asarray(Image.fromarray(classes).resize((size, size), Image.NEAREST))
    return classes


def photo_at(photo: np.ndarray, size: int) -> np.ndarray:
    if photo.shape[2] == 1:
        photo = np.repeat(photo, 3, axis=2)
    return resize(photo[:, :, :3], size, size)


class Segmenter:
    """A trained judge: photos in, class maps out, at the recipe's size."""

    def __init__(self, net: UNet, palette: Palette, recipe: SegmenterRecipe, info: dict) -> None:
        self.net, self.palette, self.recipe, self.info = net.eval(), palette, recipe, info

    @torch.no_grad()
    def predict(self, photos: Sequence[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
        size = self.recipe.size
        maps = []
        for start in range(0, len(photos), batch_size):
            x = _to_tensor([photo_at(p, size) for p in photos[start:start + batch_size]])
            maps += list(self.net(x).argmax(1).numpy().astype(np.uint8))
        return maps

    def scores(self, photos: Sequence[np.ndarray], label_maps: Sequence[np.ndarray]) -> dict[str, float]:
        """Per-pixel accuracy, mean per-class accuracy and mean IoU of the photos' segmentation."""
        if len(photos) != len(label_maps) or not photos:
            raise ValueError(f"{len(photos)} photos for {len(label_maps)} label maps")
        k = len(self.palette.names)
        matrix = np.zeros((k, k), np.int64)
        for predicted, label_map in zip(self.predict(photos), label_maps):
            truth = class_map(self.palette, label_map, self.recipe.size).astype(np.int64)
            matrix += np.bincount(truth.ravel() * k + predicted.ravel(), minlength=k * k).reshape(k, k)
        seg = segmentation_scores(self.palette, matrix)
        return {"fcn_pixel_accuracy": seg["pixel_accuracy"], "fcn_class_accuracy": seg["mean_class_accuracy"],
                "fcn_mean_IoU": seg["mean_IoU"]}

    def reference_scores(self, photos: Sequence[np.ndarray], label_maps: Sequence[np.ndarray]) -> dict[str, float]:
        """The ceiling (real photos), the real photos blurred by ``BLUR_SIGMA``, and the majority-class rate."""
        size = self.recipe.size
        blurred = [np.asarray(Image.fromarray(photo_at(p, size)).filter(ImageFilter.GaussianBlur(BLUR_SIGMA)))
                   for p in photos]
        counts = np.bincount(np.concatenate([class_map(self.palette, m, size).ravel() for m in label_maps]),
                             minlength=len(self.palette.names))
        real, soft = self.scores(photos, label_maps), self.scores(blurred, label_maps)
        return {**{f"real_{k[4:]}": v for k, v in real.items()}, **{f"blurred_{k[4:]}": v for k, v in soft.items()},
                "majority_class_rate": float(counts.max() / counts.sum()), "blur_sigma": BLUR_SIGMA}


def training_hash(pairs: Sequence[tuple[np.ndarray, np.ndarray]], palette: Palette, recipe: SegmenterRecipe) -> str:
    """Hash of what the segmenter learns from: the resized photos, their class maps, palette and recipe."""
    digest = hashlib.sha256(json.dumps({"recipe": asdict(recipe), "colors": palette.colors.tolist()}).encode())
    for photo, label_map in pairs:
        digest.update(photo_at(photo, recipe.size).tobytes())
        digest.update(class_map(palette, label_map, recipe.size).tobytes())
    return digest.hexdigest()[:16]


def train_segmenter(pairs: Sequence[tuple[np.ndarray, np.ndarray]], palette: Palette, recipe: SegmenterRecipe,
                    progress: bool = True) -> UNet:
    """Cross-entropy on (photo, label map) pairs with the fixed recipe; same pairs and recipe, same weights."""
    if len(pairs) < 2:
        raise ConfigError(f"the segmenter needs at least 2 training pairs, got {len(pairs)}")
    generator = torch.Generator().manual_seed(recipe.seed)
    photos = _to_tensor([photo_at(p, recipe.size) for p, _ in pairs])
    labels = torch.from_numpy(np.stack([class_map(palette, m, recipe.size) for _, m in pairs])).long()
    with torch.random.fork_rng(devices=[]):  # the seeded initialisation leaves the caller's RNG as it was
        torch.manual_seed(recipe.seed)
        net = _unet(recipe, len(palette.names))
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe.lr, betas=(0.9, 0.999))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, recipe.steps)
    bar = tqdm(range(recipe.steps), desc="FCN-score segmenter", unit="step", disable=not progress, file=sys.stderr,
               leave=False)
    for _ in bar:
        index = torch.randint(len(pairs), (min(recipe.batch_size, len(pairs)),), generator=generator)
        x, y = photos[index], labels[index]
        if recipe.flip:
            flip = torch.rand(len(index), generator=generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            y = torch.where(flip[:, None, None], y.flip(-1), y)
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return net.eval()


def segmenter_for(pairs: Sequence[tuple[np.ndarray, np.ndarray]], palette: Palette, *, name: str,
                  recipe: SegmenterRecipe = FULL, cache: Path | None = None, progress: bool = True) -> Segmenter:
    """The cached segmenter for these training pairs, trained first if there is none.

    Args:
        pairs: (real photo, label map) uint8 pairs of the training split (never the test split).
        name: the data set's name, the start of the cache folder's name (``NAME-HASH``).
    """
    key = f"{name}-{training_hash(pairs, palette, recipe)}"
    folder = (cache or default_cache()) / key
    weights = folder / "segmenter.pt"
    if weights.exists():
        net = _unet(recipe, len(palette.names))
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state["net"])
        except Exception as exc:  # noqa: BLE001 - any failure to read it means a damaged file
            raise ConfigError(f"{shown(weights)}: a damaged FCN-score segmenter ({str(exc).splitlines()[0][:100]}); "
                              f"delete its folder to train it again") from None
        return Segmenter(net, palette, recipe, state["info"])
    print(f"FCN-score: training the segmenter for {name} ({len(pairs)} photos, {recipe.steps} steps; "
          f"once, cached in {shown(folder)})", file=sys.stderr, flush=True)
    net = train_segmenter(pairs, palette, recipe, progress=progress)
    info = {"key": key, "name": name, "pairs": len(pairs), "recipe": asdict(recipe), "palette": palette.names}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(weights, lambda fh: torch.save({"net": net.state_dict(), "info": info}, fh))
    return Segmenter(net, palette, recipe, info)


def judge_for_data(data: str | Path, data_cfg: DataConfig, palette: str, recipe: SegmenterRecipe = FULL,
                   cache: str | Path | None = None, progress: bool = True) -> Segmenter:
    """The segmenter of DATA's train split, whose pairs are (label map, photo) as ``data_cfg.direction`` reads them."""
    try:
        train = open_pairs(data, "train", data_cfg)
    except DataError as exc:
        raise DataError(f"--fcn-score: the segmenter trains on the train split of {shown(data)}: {exc}") from None
    pairs = []
    for i in range(len(train)):
        a, b = train.load(i)
        label_map, photo = (b, a) if data_cfg.direction == "BtoA" else (a, b)
        pairs.append((photo, label_map))
    return segmenter_for(pairs, load_palette(palette), name=Path(str(data)).resolve().name or "data", recipe=recipe,
                         cache=Path(cache) if cache else None, progress=progress)


def fcn_line(scores: dict[str, float]) -> str:
    return (f"FCN-score: pixel accuracy {scores['fcn_pixel_accuracy']:.4f}, class accuracy "
            f"{scores['fcn_class_accuracy']:.4f}, mean IoU {scores['fcn_mean_IoU']:.4f}")


def fcn_reference_line(reference: dict) -> str:
    """The judge's ceiling, its blur drop and the floor, in one line."""
    return (f"FCN-score judge {reference['segmenter']['key']}: the real photos {reference['real_pixel_accuracy']:.4f} / "
            f"{reference['real_class_accuracy']:.4f} / {reference['real_mean_IoU']:.4f} (pixel / class accuracy / "
            f"mean IoU: the ceiling), blurred (sigma {reference['blur_sigma']:g} px) "
            f"{reference['blurred_pixel_accuracy']:.4f} / {reference['blurred_class_accuracy']:.4f} / "
            f"{reference['blurred_mean_IoU']:.4f}, majority class {reference['majority_class_rate']:.4f}")
