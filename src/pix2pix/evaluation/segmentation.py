"""Segmentation scores for photo -> label tasks, as the pix2pix paper evaluated (FCN-score style).

Output and target colours are mapped to the nearest class colour of a palette;
then per-pixel accuracy, per-class accuracy and per-class IoU over all images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, shown

# Class colours measured on the facades label maps (cluster centres of flat
# regions; every one lies on the jet colour map). Pass a JSON palette for
# exact colours and names of other datasets.
FACADES_PALETTE = {
    "names": ["dark blue", "blue", "azure", "light blue", "cyan", "mint", "yellow-green", "amber", "orange", "red", "dark red"],
    "colors": [[1, 1, 220], [2, 48, 252], [5, 125, 253], [5, 205, 254], [37, 251, 229], [113, 252, 151],
               [196, 253, 63], [253, 169, 7], [251, 81, 4], [242, 4, 12], [172, 1, 5]],
}
BUILT_IN = {"facades": FACADES_PALETTE}


@dataclass
class Palette:
    names: list[str]
    colors: np.ndarray  # (K, 3) uint8-valued

    def classify(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (H, W) class indices of the nearest palette colour."""
        pixels = image[:, :, :3].reshape(-1, 1, 3).astype(np.int32)
        distances = ((pixels - self.colors[None].astype(np.int32)) ** 2).sum(-1)
        return distances.argmin(1).reshape(image.shape[:2])


def load_palette(name_or_file: str) -> Palette:
    """A built-in palette by name, or a JSON file {"names": [...], "colors": [[r, g, b], ...]}."""
    if name_or_file in BUILT_IN:
        raw = BUILT_IN[name_or_file]
    else:
        path = Path(name_or_file)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"--palette {shown(path)}: not a built-in palette ({', '.join(BUILT_IN)}) nor a file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--palette {shown(path)}: not valid JSON ({exc})") from None
    colors = raw.get("colors") if isinstance(raw, dict) else None
    if not isinstance(colors, list) or not colors or not all(isinstance(c, list) and len(c) == 3 for c in colors):
        raise ConfigError(f"--palette {name_or_file}: needs \"colors\": [[r, g, b], ...]")
    array = np.array(colors, dtype=np.int64)
    if array.min() < 0 or array.max() > 255:
        raise ConfigError(f"--palette {name_or_file}: colour values must be 0-255")
    names = raw.get("names") or [f"class_{i}" for i in range(len(colors))]
    if len(names) != len(colors):
        raise ConfigError(f"--palette {name_or_file}: {len(names)} names for {len(colors)} colours")
    return Palette([str(n) for n in names], array)


def confusion(palette: Palette, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(K, K) counts: rows = target class, columns = predicted class."""
    k = len(palette.names)
    t, p = palette.classify(target).ravel(), palette.classify(pred).ravel()
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def segmentation_scores(palette: Palette, matrix: np.ndarray) -> dict[str, object]:
    """Per-pixel accuracy, mean per-class accuracy, mean IoU, and per-class values (classes present in targets)."""
    total = matrix.sum()
    correct = np.diag(matrix)
    rows, cols = matrix.sum(1), matrix.sum(0)
    present = rows > 0
    class_acc = np.where(present, correct / np.maximum(rows, 1), np.nan)
    iou = np.where(present, correct / np.maximum(rows + cols - correct, 1), np.nan)
    return {
        "pixel_accuracy": float(correct.sum() / max(total, 1)),
        "mean_class_accuracy": float(np.nanmean(class_acc)) if present.any() else 0.0,
        "mean_IoU": float(np.nanmean(iou)) if present.any() else 0.0,
        "per_class": {name: {"accuracy": float(a), "IoU": float(i)} for name, a, i, ok in zip(palette.names, class_acc, iou, present) if ok},
    }
