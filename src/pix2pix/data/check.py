"""``pix2pix check-data``: what a dataset holds and everything wrong with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import DataConfig
from ..errors import shown
from . import demo
from .layout import detect_layout
from .sources import PairSource, open_file_split, open_pairs


@dataclass
class CheckReport:
    description: str
    splits: dict[str, PairSource] = field(default_factory=dict)

    @property
    def usable_pairs(self) -> int:
        return sum(len(s) for s in self.splits.values())

    @property
    def problem_count(self) -> int:
        return sum(len(s.report.problems) for s in self.splits.values())

    def lines(self, max_problems: int = 50) -> list[str]:
        out = [f"dataset: {self.description}"]
        for name, source in self.splits.items():
            rep = source.report
            sizes = ", ".join(f"{w}x{h} ({n})" for (w, h), n in rep.sizes.most_common(3))
            if len(rep.sizes) > 3:
                sizes += f", ... ({len(rep.sizes)} sizes)"
            chans = " | ".join(_channels_text(side, native, used) for side, native, used in zip("AB", rep.native_channels, source.channels))
            out.append(f"split {name}: {len(source)} pairs, sizes {sizes or 'n/a'}, channels {chans}")
        skipped = [p for s in self.splits.values() for p in s.report.skipped]
        if skipped:
            names = sorted({p.name for p in skipped})
            out.append(f"skipped {len(skipped)} non-image file(s): {', '.join(names[:5])}" + (" ..." if len(names) > 5 else ""))
            for path in skipped[:max_problems]:
                out.append(f"  skipped {shown(path)}")
        problems = [p for s in self.splits.values() for p in s.report.problems]
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


def check_dataset(data: str | Path, cfg: DataConfig | None = None) -> CheckReport:
    """Open every split, decoding every image once (truncated files are found too)."""
    cfg = cfg or DataConfig()
    name = demo.parse_demo_name(str(data))
    if name is not None:
        splits = {split: open_pairs(data, split, cfg) for split in demo.SPLIT_SIZES}
        return CheckReport(next(iter(splits.values())).description, splits)
    layout = detect_layout(data)
    report = CheckReport(f"{shown(layout.root)}\nlayout: {layout.describe()}, paired by file stem" if layout.kind == "folders"
                         else f"{shown(layout.root)}\nlayout: {layout.describe()}")
    for split in layout.splits:
        report.splits[split] = open_file_split(layout, split, cfg, decode="check")
    return report
