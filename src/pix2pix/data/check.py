"""``pix2pix check-data``: what a dataset holds and everything wrong with it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DataConfig
from ..errors import shown
from . import demo
from .layout import detect_layout
from .sources import PairSource, open_file_split, open_pairs
from .unpaired import ImageSource, open_unpaired


def _sizes_text(sizes: Counter) -> str:
    text = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common(3))
    if len(sizes) > 3:
        text += f", ... ({len(sizes)} sizes)"
    return text or "n/a"


@dataclass
class CheckReport:
    description: str
    splits: dict[str, PairSource] = field(default_factory=dict)
    sides: dict[str, tuple[ImageSource, ImageSource]] = field(default_factory=dict)  # unpaired (CycleGAN)

    @property
    def usable_pairs(self) -> int:
        """Usable pairs (paired data) or images on the smaller side of each split (unpaired)."""
        return sum(len(s) for s in self.splits.values()) + sum(min(len(a), len(b)) for a, b in self.sides.values())

    def _reports(self) -> list:
        return [s.report for s in self.splits.values()] + [side.report for pair in self.sides.values() for side in pair]

    def lines(self, max_problems: int = 50) -> list[str]:
        out = [f"dataset: {self.description}"]
        for name, source in self.splits.items():
            rep = source.report
            chans = " | ".join(_channels_text(side, native, used) for side, native, used in zip("AB", rep.native_channels, source.channels))
            out.append(f"split {name}: {len(source)} pairs, sizes {_sizes_text(rep.sizes)}, channels {chans}")
        for name, pair in self.sides.items():
            for label, side in zip("AB", pair):
                rep = side.report
                out.append(f"split {name} side {label} ({rep.name}): {len(side)} images, sizes {_sizes_text(rep.sizes)}, "
                           f"channels {_channels_text(label, rep.native_channels, side.channels)}")
        skipped = [p for rep in self._reports() for p in rep.skipped]
        if skipped:
            names = sorted({p.name for p in skipped})
            out.append(f"skipped {len(skipped)} non-image file(s): {', '.join(names[:5])}" + (" ..." if len(names) > 5 else ""))
            for path in skipped[:max_problems]:
                out.append(f"  skipped {shown(path)}")
        problems = [p for rep in self._reports() for p in rep.problems]
        if problems:
            out.append(f"problems: {len(problems)} file(s) left out")
            out += [f"  {p}" for p in problems[:max_problems]]
            if len(problems) > max_problems:
                out.append(f"  ... and {len(problems) - max_problems} more")
        else:
            out.append("problems: none")
        return out


def _channels_text(side: str, native: set, used: int) -> str:
    kinds = {1: "grey", 3: "RGB"}
    found = "+".join(kinds.get(c, str(c)) for c in sorted(native)) or "?"
    return f"{side}: {found} -> {used}"


def check_dataset(data: str | Path, cfg: DataConfig | None = None, unpaired: bool = False) -> CheckReport:
    """Open every split, decoding every image once (truncated files are found too).

    Args:
        unpaired: check each side on its own (CycleGAN) instead of pairing by name.
    """
    cfg = cfg or DataConfig()
    name = demo.parse_demo_name(str(data))
    if unpaired:
        splits = list(demo.SPLIT_SIZES) if name is not None else list(detect_layout(data).splits)
        report = CheckReport(f"{shown(data)} (unpaired: each side on its own)")
        for split in splits:
            report.sides[split] = open_unpaired(data, split, cfg, decode="check")
        return report
    if name is not None:
        splits = {split: open_pairs(data, split, cfg) for split in demo.SPLIT_SIZES}
        return CheckReport(next(iter(splits.values())).description, splits)
    layout = detect_layout(data)
    report = CheckReport(f"{shown(layout.root)}\nlayout: {layout.describe()}, paired by file stem" if layout.kind == "folders"
                         else f"{shown(layout.root)}\nlayout: {layout.describe()}")
    for split in layout.splits:
        report.splits[split] = open_file_split(layout, split, cfg, decode="check")
    return report


def check_photos(data: str | Path, cfg: DataConfig) -> tuple[list[str], int]:
    """check-data for a photo task: per split, the photo count, sizes and every problem; (lines, usable photos)."""
    from .layout import detect_layout
    from .photos import open_photos, photo_counts

    layout = detect_layout(data)
    lines = [f"{shown(data)}: photos for the {cfg.task} task ({'one half of each A|B file: ' + cfg.photo_side if cfg.photo_side else 'whole files'})"]
    usable = 0
    for split in layout.splits:
        photos = open_photos(data, split, cfg, decode="check")
        usable += len(photos)
        lines.append(f"split {split}: {photo_counts(photos)}")
        for problem in photos.report.problems[:50]:
            lines.append(f"  problem: {problem}")
        if photos.report.skipped:
            lines.append(f"  skipped {len(photos.report.skipped)} non-image file(s)")
    return lines, usable
