"""Pair sources: an indexable list of (A, B) uint8 pairs, from files or the demo.

Opening a split checks every file's header (size, channels, pairing) and, when
the decoded split fits in ``data.cache_mb``, decodes everything once into RAM.
Files that cannot be used are left out and reported as problems; the caller
decides whether to warn (train, test) or list them (check-data).
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from tqdm import tqdm

from ..config import DataConfig
from ..errors import DataError, ImageError, shown
from . import demo
from .io import ImageInfo, convert_channels, probe_image, read_image
from .layout import ALL_SPLIT, DatasetLayout, Problem, SplitFiles, detect_layout, pair_by_stem

Decode = Literal["auto", "check", "lazy"]


@dataclass(frozen=True)
class PairRecord:
    """Where one pair lives: two files, or one aligned A|B file (``b is None``)."""

    key: str
    a: Path
    b: Path | None = None


@dataclass
class SourceReport:
    """What opening a split found: the numbers check-data prints and train warns about."""

    split: str
    sizes: Counter = field(default_factory=Counter)  # (width, height) of A per pair
    native_channels: tuple[set, set] = field(default_factory=lambda: (set(), set()))
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # non-image files, ignored


class PairSource:
    """Indexable (A, B) pairs with fixed channel counts per side."""

    description: str = ""
    channels: tuple[int, int] = (3, 3)
    report: SourceReport

    def __len__(self) -> int:
        raise NotImplementedError

    def key(self, index: int) -> str:
        """A stable name for the pair (output files are named after it)."""
        raise NotImplementedError

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) as (H, W, C) uint8 with ``self.channels`` channels."""
        raise NotImplementedError

    def subset(self, indices: Sequence[int]) -> "PairSource":
        return SubsetSource(self, list(indices))


class SubsetSource(PairSource):
    def __init__(self, parent: PairSource, indices: list[int]) -> None:
        self.parent, self.indices = parent, indices
        self.description, self.channels, self.report = parent.description, parent.channels, parent.report

    def __len__(self) -> int:
        return len(self.indices)

    def key(self, index: int) -> str:
        return self.parent.key(self.indices[index])

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.parent.load(self.indices[index])


class DemoSource(PairSource):
    """``demo:shapes``: generated on the fly, identical everywhere."""

    def __init__(self, split: str, size: int) -> None:
        if split == ALL_SPLIT:
            split = "train"
        if split not in demo.SPLIT_SIZES:
            raise DataError(f"demo:shapes has no '{split}' split (valid: {', '.join(demo.SPLIT_SIZES)})")
        self.split, self.size = split, size
        self.channels = (3, 3)
        self.description = f"built-in demo dataset demo:shapes ({size}x{size} px, label map -> rendering)"
        self.report = SourceReport(split, Counter({(size, size): demo.split_size(split)}), ({3}, {3}))

    def __len__(self) -> int:
        return demo.split_size(self.split)

    def key(self, index: int) -> str:
        return f"{self.split}_{index:04d}"

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return demo.make_pair(self.split, index, self.size)


class FileSource(PairSource):
    """Pairs from image files, optionally decoded once into RAM."""

    def __init__(self, records: list[PairRecord], channels: tuple[int, int], report: SourceReport, description: str) -> None:
        self.records, self.channels, self.report, self.description = records, channels, report, description
        self.cache: list[tuple[np.ndarray, np.ndarray]] | None = None
        self.sizes: dict[PairRecord, tuple[int, int]] = {}  # (width, height) of A, from the headers

    def __len__(self) -> int:
        return len(self.records)

    def key(self, index: int) -> str:
        return self.records[index].key

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is not None:
            return self.cache[index]
        return decode_record(self.records[index], self.channels)

    def decode_all(self, keep: bool, progress: bool = True) -> None:
        """Decode every pair (to find truncated files); keep them in RAM if asked."""

        def forget_size(record: PairRecord) -> None:
            if record in self.sizes:
                self.report.sizes[self.sizes[record]] -= 1
                self.report.sizes += Counter()  # drop sizes no pair has any more

        self.records, self.cache = decode_each(
            self.records, lambda r: decode_record(r, self.channels), self.report.problems, keep,
            f"decoding {self.report.split}", forget_size, progress,
        )


def decode_each(items: list, decode, problems: list[Problem], keep: bool, desc: str, on_failure=None,  # noqa: ANN001
                progress: bool = True) -> tuple[list, list | None]:
    """Decode every item; failures become problems (and leave the list). Returns (good items, decoded or None)."""
    good, cache = [], []
    for item in tqdm(items, desc=desc, unit="item", leave=False, disable=not progress or len(items) < 50, file=sys.stderr):
        try:
            decoded = decode(item)
        except ImageError as exc:
            problems.append(Problem(Path(exc.path), exc.reason))
            if on_failure is not None:
                on_failure(item)
            continue
        good.append(item)
        if keep:
            cache.append(decoded)
    return good, (cache if keep else None)


def decode_record(record: PairRecord, channels: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    if record.b is None:
        whole = read_image(record.a)
        width = whole.shape[1]
        if width % 2:
            raise ImageError(record.a, f"A|B image has odd width {width}; cannot split into two halves")
        a, b = whole[:, : width // 2], whole[:, width // 2 :]
        return convert_channels(a, channels[0]), convert_channels(b, channels[1])
    a, b = read_image(record.a, channels[0]), read_image(record.b, channels[1])
    if a.shape[:2] != b.shape[:2]:
        raise ImageError(record.b, f"size {b.shape[1]}x{b.shape[0]} differs from its partner {record.a.name} ({a.shape[1]}x{a.shape[0]})")
    return a, b


def split_records(split: SplitFiles) -> tuple[list[PairRecord], list[Problem]]:
    """Pair a split's files (aligned files are pairs on their own)."""
    if split.aligned:
        return [PairRecord(p.stem, p) for p in split.aligned], []
    a_name = split.a_dir.name if split.a_dir else "A"
    b_name = split.b_dir.name if split.b_dir else "B"
    pairing = pair_by_stem(split.a, split.b, a_name, b_name)
    return [PairRecord(key, a, b) for key, a, b in pairing.pairs], pairing.problems


def _probe_record(record: PairRecord) -> tuple[ImageInfo, ImageInfo]:
    if record.b is None:
        info = probe_image(record.a)
        if info.width % 2:
            raise ImageError(record.a, f"A|B image has odd width {info.width}; cannot split into two halves")
        half = ImageInfo(info.width // 2, info.height, info.channels)
        return half, half
    a, b = probe_image(record.a), probe_image(record.b)
    if (a.width, a.height) != (b.width, b.height):
        raise ImageError(record.b, f"size {b.width}x{b.height} differs from its partner {record.a.name} ({a.width}x{a.height})")
    return a, b


def resolve_channels(cfg: DataConfig, native: tuple[set, set]) -> tuple[int, int]:
    """Channels of (A, B): from the config when set, else 1 if a side is all grey, else 3."""
    auto = tuple(1 if sides == {1} else 3 for sides in native)
    configured = (cfg.input_channels, cfg.output_channels)
    if cfg.direction == "BtoA":
        configured = configured[::-1]
    return tuple(c or a for c, a in zip(configured, auto))  # type: ignore[return-value]


def open_file_split(layout: DatasetLayout, split_name: str, cfg: DataConfig, decode: Decode = "auto",
                    progress: bool = True) -> FileSource:
    """Pair, probe and (when it fits, or for checking) decode one split of a folder dataset.

    Args:
        decode: auto = decode into RAM when the split fits in ``cfg.cache_mb``;
            check = decode everything once without keeping it; lazy = headers only.
    """
    split = layout.split(split_name)
    records, problems = split_records(split)
    report = SourceReport(split.name, problems=list(split.problems) + problems, skipped=list(split.skipped))
    good: list[PairRecord] = []
    sizes: dict[PairRecord, tuple[int, int]] = {}
    decoded_bytes = 0
    bar = tqdm(records, desc=f"checking {split.name}", unit="pair", leave=False, disable=not progress or len(records) < 500,
               file=sys.stderr)
    for record in bar:
        try:
            a, b = _probe_record(record)
        except ImageError as exc:
            report.problems.append(Problem(Path(exc.path), exc.reason))
            continue
        good.append(record)
        sizes[record] = (a.width, a.height)
        report.sizes[(a.width, a.height)] += 1
        report.native_channels[0].add(a.channels)
        report.native_channels[1].add(b.channels)
        decoded_bytes += a.width * a.height * (a.channels + b.channels)
    channels = resolve_channels(cfg, report.native_channels)
    source = FileSource(good, channels, report, f"{shown(layout.root)}: {layout.describe()}")
    source.sizes = sizes
    if decode == "check" or (decode == "auto" and decoded_bytes <= cfg.cache_mb * 2**20):
        source.decode_all(keep=decode == "auto", progress=progress)
    return source


def open_pairs(data: str | Path, split: str, cfg: DataConfig, decode: Decode = "auto", progress: bool = True) -> PairSource:
    """The pairs of one split of DATA (a folder or a ``demo:`` name)."""
    name = demo.parse_demo_name(str(data))
    if name is not None:
        if name not in demo.DEMO_NAMES:
            raise DataError(f"unknown demo dataset '{data}' (valid: {', '.join('demo:' + n for n in demo.DEMO_NAMES)})")
        return DemoSource(split, cfg.demo_size)
    return open_file_split(detect_layout(data), split, cfg, decode, progress)


def available_splits(data: str | Path) -> list[str]:
    name = demo.parse_demo_name(str(data))
    if name is not None:
        return list(demo.SPLIT_SIZES)
    return list(detect_layout(data).splits)


def holdout_indices(n: int, fraction: float) -> tuple[list[int], list[int]]:
    """(kept, held) indices: a fixed, seed-independent share held out for validation."""
    count = min(n - 1, max(1, round(n * fraction))) if fraction > 0 and n >= 2 else 0
    order = list(range(n))
    random.Random(12345).shuffle(order)
    return sorted(order[count:]), sorted(order[:count])


def holdout_split(source: PairSource, fraction: float) -> tuple[PairSource, PairSource | None]:
    """Hold out a fixed, seed-independent share of pairs for validation."""
    kept, held = holdout_indices(len(source), fraction)
    if not held:
        return source, None
    return source.subset(kept), source.subset(held)


def left_out_warning(problems: list[Problem], where: str, data: object, check_options: str = "") -> str | None:
    """One warning line for the files left out of ``where``, or None when there are none."""
    if not problems:
        return None
    return (f"warning: left out {len(problems)} file(s) of {where} (first: {problems[0]}); "
            f"run 'pix2pix check-data {shown(data)}{check_options}' for the full list")


def summarize_problems(source: PairSource, data: object) -> str | None:
    """The warning for a paired split (see ``left_out_warning``)."""
    return left_out_warning(source.report.problems, f"split '{source.report.split}'", data)
