"""Label maps' class colours: palettes (built-in, JSON files, inline) and guessing whether a model's inputs
are label maps, and their colours (for the drawing page)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, shown
from .sources import PairSource

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


def load_palette(name_or_file: str, option: str = "--palette") -> Palette:
    """A built-in palette by name, a JSON file {"names": [...], "colors": [[r, g, b], ...]}, or the colours
    themselves, ``#rrggbb,#rrggbb,...`` (``inline``: how a run keeps its palette). ``option`` names the
    setting in error messages."""
    if name_or_file in BUILT_IN:
        raw = BUILT_IN[name_or_file]
    elif name_or_file.startswith("#"):
        raw = {"colors": _hex_colours(name_or_file, option)}
    else:
        path = Path(name_or_file)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{option} {shown(path)}: not a built-in palette ({', '.join(BUILT_IN)}) nor a file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{option} {shown(path)}: not valid JSON ({exc})") from None
    colors = raw.get("colors") if isinstance(raw, dict) else None
    if not isinstance(colors, list) or not colors or not all(isinstance(c, list) and len(c) == 3 for c in colors):
        raise ConfigError(f"{option} {name_or_file}: needs \"colors\": [[r, g, b], ...]")
    array = np.array(colors, dtype=np.int64)
    if array.min() < 0 or array.max() > 255:
        raise ConfigError(f"{option} {name_or_file}: colour values must be 0-255")
    names = raw.get("names") or [f"class_{i}" for i in range(len(colors))]
    if len(names) != len(colors):
        raise ConfigError(f"{option} {name_or_file}: {len(names)} names for {len(colors)} colours")
    return Palette([str(n) for n in names], array)




def inline(palette: Palette) -> str:
    """The palette's colours as ``#rrggbb,#rrggbb,...`` (``load_palette`` reads it back)."""
    return ",".join("#" + "".join(f"{int(v):02x}" for v in colour) for colour in palette.colors)


def _hex_colours(text: str, option: str) -> list[list[int]]:
    colours = []
    for item in text.split(","):
        item = item.strip()
        if len(item) != 7 or not item.startswith("#") or any(c not in "0123456789abcdefABCDEF" for c in item[1:]):
            raise ConfigError(f"{option}: '{item}' is not a colour #rrggbb")
        colours.append([int(item[i:i + 2], 16) for i in (1, 3, 5)])
    return colours



def _flat_mask(image: np.ndarray, tolerance: int = 24) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood varies by less than ``tolerance`` in every channel."""
    padded = np.pad(image.astype(np.int16), ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = image.shape[:2]
    shifts = [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]
    spread = np.max(shifts, axis=0) - np.min(shifts, axis=0)
    return (spread < tolerance).all(axis=2)


def input_palette(source: PairSource, direction: str, samples: int = 50, max_colours: int = 24) -> list[list[int]] | None:
    """Class colours when the inputs look like label maps, else None.

    A label map is mostly flat (>= 60% of pixels in constant 3x3 neighbourhoods)
    and its flat pixels fall into a few colours (<= ``max_colours`` bins of 32
    levels per channel cover 90% of them, tolerant of JPEG noise). Each returned
    colour is the mean of its bin, most frequent first.
    """
    side = 1 if direction == "BtoA" else 0
    sums: dict[tuple[int, int, int], np.ndarray] = {}
    counts: dict[tuple[int, int, int], int] = {}
    total = all_pixels = 0
    for index in range(min(samples, len(source))):
        image = source.load(index)[side]
        if image.shape[2] != 3:
            return None
        flat = _flat_mask(image)
        all_pixels += flat.size
        pixels = image[flat].astype(np.int64)
        keys = pixels // 32
        codes = keys[:, 0] * 64 + keys[:, 1] * 8 + keys[:, 2]
        for code, count, colour_sum in _bin(codes, pixels):
            key = (code // 64, code // 8 % 8, code % 8)
            counts[key] = counts.get(key, 0) + count
            sums[key] = sums.get(key, 0) + colour_sum
        total += len(pixels)
    if not total or total < 0.6 * all_pixels:
        return None
    ranked = sorted(counts, key=counts.get, reverse=True)
    major = [k for k in ranked if counts[k] >= 0.005 * total][:max_colours]
    if not major or sum(counts[k] for k in major) < 0.9 * total:
        return None
    colours: list[np.ndarray] = []
    for key in major:  # JPEG noise splits a colour across neighbouring bins: keep the more frequent one
        colour = sums[key] / counts[key]
        if all(np.abs(colour - c).max() > 24 for c in colours):
            colours.append(colour)
    if len(colours) < 2:  # one flat colour is a background, not a set of classes
        return None
    return [[int(round(v)) for v in c] for c in colours]


def _bin(codes: np.ndarray, pixels: np.ndarray):  # noqa: ANN202 - yields (code, count, sum)
    order = np.argsort(codes, kind="stable")
    codes, pixels = codes[order], pixels[order]
    unique, starts, counts = np.unique(codes, return_index=True, return_counts=True)
    sums = np.add.reduceat(pixels, starts, axis=0)
    for code, count, total in zip(unique.tolist(), counts.tolist(), sums):
        yield code, count, total.astype(np.float64)
