"""Unpaired data for CycleGAN: two independent collections of images, A and B.

``DATA/{trainA,trainB,testA,testB}`` may hold different counts per side; an
aligned A|B dataset is used as its left halves (A) and right halves (B); the
demo's label maps and renderings are drawn from different indices. Each epoch
visits every A image once (the longer side sets the epoch length, the shorter
wraps around) and pairs it with a B image drawn at random from (seed, epoch,
index), or in order with ``data.serial``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from ..config import DataConfig
from ..errors import DataError, ImageError
from . import demo
from .io import convert_channels, probe_image, read_image
from .layout import ALL_SPLIT, Problem, detect_layout
from .sources import decode_each, left_out_warning, resolve_channels
from .tensors import to_chw_uint8
from .transforms import PairTransform


@dataclass
class SideReport:
    """What opening one side of a split found."""

    name: str
    sizes: Counter = field(default_factory=Counter)
    native_channels: set = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


class ImageSource:
    """Indexable single images of one side, with a fixed channel count."""

    channels: int = 3
    report: SideReport

    def __len__(self) -> int:
        raise NotImplementedError

    def key(self, index: int) -> str:
        raise NotImplementedError

    def load(self, index: int) -> np.ndarray:
        raise NotImplementedError


class SubsetImages(ImageSource):
    def __init__(self, parent: ImageSource, indices: list[int]) -> None:
        self.parent, self.indices = parent, indices
        self.channels, self.report = parent.channels, parent.report

    def __len__(self) -> int:
        return len(self.indices)

    def key(self, index: int) -> str:
        return self.parent.key(self.indices[index])

    def load(self, index: int) -> np.ndarray:
        return self.parent.load(self.indices[index])


class FileImages(ImageSource):
    """Images from files; half of each file for an aligned dataset (``half`` 0 = left, 1 = right)."""

    def __init__(self, files: list[Path], report: SideReport, half: int | None = None) -> None:
        self.files, self.report, self.half = files, report, half
        self.cache: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.files)

    def key(self, index: int) -> str:
        return self.files[index].stem

    def _decode(self, path: Path) -> np.ndarray:
        image = read_image(path)
        if self.half is not None:
            width = image.shape[1]
            if width % 2:
                raise ImageError(path, f"A|B image has odd width {width}; cannot split into two halves")
            image = image[:, : width // 2] if self.half == 0 else image[:, width // 2 :]
        return convert_channels(image, self.channels)

    def load(self, index: int) -> np.ndarray:
        if self.cache is not None:
            return self.cache[index]
        return self._decode(self.files[index])

    def probe(self) -> int:
        """Check every header; drop unusable files; return the decoded size in bytes."""
        good, total = [], 0
        for path in self.files:
            try:
                info = probe_image(path)
                if self.half is not None and info.width % 2:
                    raise ImageError(path, f"A|B image has odd width {info.width}; cannot split into two halves")
            except ImageError as exc:
                self.report.problems.append(Problem(Path(exc.path), exc.reason))
                continue
            width = info.width // 2 if self.half is not None else info.width
            good.append(path)
            self.report.sizes[(width, info.height)] += 1
            self.report.native_channels.add(info.channels)
            total += width * info.height * info.channels
        self.files = good
        return total

    def decode_all(self, keep: bool, progress: bool = True) -> None:
        self.files, self.cache = decode_each(self.files, self._decode, self.report.problems, keep,
                                             f"decoding {self.report.name}", progress=progress)


class DemoImages(ImageSource):
    """One side of demo:shapes: label maps (A) or renderings (B)."""

    def __init__(self, split: str, side: int, size: int) -> None:
        if split == ALL_SPLIT:
            split = "train"
        if split not in demo.SPLIT_SIZES:
            raise DataError(f"demo:shapes has no '{split}' split (valid: {', '.join(demo.SPLIT_SIZES)})")
        self.split, self.side, self.size = split, side, size
        self.report = SideReport(f"{split}{'AB'[side]}", Counter({(size, size): demo.split_size(split)}), {3})

    def __len__(self) -> int:
        return demo.split_size(self.split)

    def key(self, index: int) -> str:
        return f"{self.split}_{index:04d}"

    def load(self, index: int) -> np.ndarray:
        # B images come from other pairs than A images: the two sides are unpaired.
        other = index if self.side == 0 else (index * 7 + 3) % len(self)
        return demo.make_pair(self.split, other, self.size)[self.side]


def open_unpaired(data: str | Path, split: str, cfg: DataConfig, decode: str = "auto",
                  progress: bool = True) -> tuple[ImageSource, ImageSource]:
    """The A and B images of one split, each side checked on its own."""
    name = demo.parse_demo_name(str(data))
    if name is not None:
        if name not in demo.DEMO_NAMES:
            raise DataError(f"unknown demo dataset '{data}' (valid: {', '.join('demo:' + n for n in demo.DEMO_NAMES)})")
        return DemoImages(split, 0, cfg.demo_size), DemoImages(split, 1, cfg.demo_size)
    layout = detect_layout(data)
    files = layout.split(split)
    if layout.kind == "aligned":
        sides = [FileImages(list(files.aligned), SideReport(f"{files.name} (A halves)", problems=list(files.problems), skipped=list(files.skipped)), 0),
                 FileImages(list(files.aligned), SideReport(f"{files.name} (B halves)"), 1)]
    else:
        a_name = files.a_dir.name if files.a_dir else f"{files.name}A"
        b_name = files.b_dir.name if files.b_dir else f"{files.name}B"
        in_a = [p for p in files.problems if files.a_dir and p.path.parent == files.a_dir]
        sides = [
            FileImages(list(files.a), SideReport(a_name, problems=in_a, skipped=[p for p in files.skipped if p.parent == files.a_dir])),
            FileImages(list(files.b), SideReport(b_name, problems=[p for p in files.problems if p not in in_a],
                                                 skipped=[p for p in files.skipped if p.parent != files.a_dir])),
        ]
    total = sum(side.probe() for side in sides)
    channels = resolve_channels(cfg, (sides[0].report.native_channels, sides[1].report.native_channels))
    for side, count in zip(sides, channels):
        side.channels = count
    if decode == "check" or (decode == "auto" and total <= cfg.cache_mb * 2**20):
        for side in sides:
            side.decode_all(keep=decode == "auto", progress=progress)
    return sides[0], sides[1]


def side_warning(side: ImageSource, data: object, method: str) -> str | None:
    """The warning for one side of an unpaired split (see ``left_out_warning``); ``method`` makes
    the suggested check-data command check the sides as that method reads them."""
    return left_out_warning(side.report.problems, side.report.name, data, f" --set model.method={method}")


class UnpairedDataset(Dataset):
    """Items: {"A": (C, H, W) uint8, "B": (C', H', W') uint8, "index": int}, A and B independent."""

    def __init__(self, a: ImageSource, b: ImageSource, transform: PairTransform, seed: int, serial: bool = False) -> None:
        if len(a) == 0 or len(b) == 0:
            raise DataError("CycleGAN needs images on both sides (A and B)")
        self.a, self.b, self.transform, self.seed, self.serial = a, b, transform, seed, serial

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, item: int) -> dict[str, object]:
        epoch, index = divmod(int(item), len(self))
        rng = np.random.default_rng([self.seed, epoch, index])
        index_b = index % len(self.b) if self.serial else int(rng.integers(len(self.b)))
        image_a = self.a.load(index % len(self.a))
        image_b = self.b.load(index_b)
        (image_a,) = self.transform.apply([image_a], rng)
        (image_b,) = self.transform.apply([image_b], rng)
        return {"A": to_chw_uint8(image_a), "B": to_chw_uint8(image_b), "index": index}
