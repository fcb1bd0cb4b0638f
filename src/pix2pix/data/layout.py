"""Find the images of a dataset folder and pair them.

Two layouts are detected:

* aligned: ``DATA/{train,val,test}/*.jpg``, each file holding A|B side by side
  (the standard pix2pix format); a flat folder of such files is split ``all``.
* folders: ``DATA/{trainA,trainB,testA,testB,...}`` or ``DATA/{A,B}`` (split
  ``all``); files are paired by stem, tolerant of ``_A``/``_B`` suffixes.

``pair_by_stem`` is the one pairing rule of the project: check-data, training,
test and evaluate all call it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import DataError, shown
from .io import is_image_name

# Stripped from a stem before pairing, longest first: "3_A" pairs with "3_B" and
# "3"; the research code's result names ("3_fake_B") pair with targets too.
PAIR_SUFFIXES = tuple(
    sorted(
        ("_A", "_B", "-A", "-B", "_a", "_b", "_fake_A", "_fake_B", "_real_A", "_real_B", "_fake", "_real"),
        key=len,
        reverse=True,
    )
)
ALL_SPLIT = "all"


def pair_key(stem: str) -> str:
    """The name two partner files share: the stem without one pairing suffix."""
    for suffix in PAIR_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def natural_key(text: str) -> list[object]:
    """Sort '2' before '10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


@dataclass
class Problem:
    """Something wrong with one file; the file is left out of the data."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{shown(self.path)}: {self.message}"


@dataclass
class Pairing:
    pairs: list[tuple[str, Path, Path]]  # (key, left, right), naturally sorted by key
    problems: list[Problem]


def pair_by_stem(left: list[Path], right: list[Path], left_name: str = "A", right_name: str = "B") -> Pairing:
    """Pair two file lists by suffix-tolerant stem; report files without a partner.

    Args:
        left, right: image files of the two sides.
        left_name, right_name: how problems name the sides (folder names).
    """
    problems: list[Problem] = []

    def index(files: list[Path], side: str) -> dict[str, Path]:
        by_key: dict[str, Path] = {}
        for path in files:
            key = pair_key(path.stem)
            if key in by_key:
                problems.append(Problem(path, f"same pairing name '{key}' as {by_key[key].name} in {side}; ignored"))
                continue
            by_key[key] = path
        return by_key

    lefts, rights = index(left, left_name), index(right, right_name)
    for key, path in lefts.items():
        if key not in rights:
            problems.append(Problem(path, f"no partner in {right_name} (expected {key}.* or {key}_B.*)"))
    for key, path in rights.items():
        if key not in lefts:
            problems.append(Problem(path, f"no partner in {left_name} (expected {key}.* or {key}_A.*)"))
    keys = sorted(set(lefts) & set(rights), key=natural_key)
    return Pairing([(k, lefts[k], rights[k]) for k in keys], problems)


@dataclass
class Listing:
    """The image files of one folder, and what was left out."""

    images: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # not images by name (.DS_Store, notes.txt)
    problems: list[Problem] = field(default_factory=list)  # broken links, unreadable entries


def list_images(folder: Path) -> Listing:
    """Image files directly inside ``folder``, naturally sorted."""
    listing = Listing()
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except NotADirectoryError:
        raise DataError(f"{shown(folder)}: is a file, expected a folder of images") from None
    except FileNotFoundError:
        raise DataError(f"{shown(folder)}: folder not found") from None
    except PermissionError:
        raise DataError(f"{shown(folder)}: permission denied") from None
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir():
                continue
            is_file = entry.is_file()
        except OSError as exc:  # symlink loop, permission
            listing.problems.append(Problem(path, f"cannot read entry ({exc.strerror or exc})"))
            continue
        if not is_image_name(path):
            listing.skipped.append(path)
        elif not is_file:
            reason = "broken symbolic link" if entry.is_symlink() else "not a regular file"
            listing.problems.append(Problem(path, reason))
        else:
            listing.images.append(path)
    return listing


@dataclass
class SplitFiles:
    """One split's files before any decoding."""

    name: str
    aligned: list[Path] = field(default_factory=list)  # aligned layout: A|B per file
    a: list[Path] = field(default_factory=list)  # folder layout
    b: list[Path] = field(default_factory=list)
    a_dir: Path | None = None
    b_dir: Path | None = None
    skipped: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class DatasetLayout:
    root: Path
    kind: Literal["aligned", "folders"]
    splits: dict[str, SplitFiles]

    def describe(self) -> str:
        if self.kind == "aligned":
            return "aligned (each file holds A|B side by side)"
        names = []
        for split in self.splits.values():
            if split.a_dir and split.b_dir:
                names.append(f"{split.a_dir.name}/{split.b_dir.name}")
        return f"paired folders ({', '.join(names)})"

    def split(self, name: str) -> SplitFiles:
        """The named split; a dataset with a single 'all' split serves every name."""
        if name in self.splits:
            return self.splits[name]
        if set(self.splits) == {ALL_SPLIT}:
            return self.splits[ALL_SPLIT]
        raise DataError(
            f"{shown(self.root)}: no '{name}' split (found: {', '.join(self.splits) or 'none'})"
        )


_SIDE_DIR = re.compile(r"^(.*)([AB])$")


def detect_layout(root: str | Path) -> DatasetLayout:
    """Look at the folder structure only (no decoding) and collect every split's files.

    Raises:
        DataError: the path is missing, not a folder, or holds no recognisable layout.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{shown(root)}: dataset folder not found")
    if not root.is_dir():
        raise DataError(f"{shown(root)}: is a file, expected a dataset folder")
    try:
        subdirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    except PermissionError:
        raise DataError(f"{shown(root)}: permission denied") from None

    sides: dict[str, dict[str, Path]] = {}
    for sub in subdirs:
        match = _SIDE_DIR.match(sub.name)
        if match:
            prefix = match.group(1).rstrip("_-")
            sides.setdefault(prefix or ALL_SPLIT, {})[match.group(2)] = sub
    if sides:
        splits: dict[str, SplitFiles] = {}
        for name, dirs in sorted(sides.items(), key=lambda kv: _split_order(kv[0])):
            split = SplitFiles(name, a_dir=dirs.get("A"), b_dir=dirs.get("B"))
            for side in ("A", "B"):
                folder = dirs.get(side)
                if folder is None:
                    other = dirs["B" if side == "A" else "A"]
                    split.problems.append(Problem(other, f"has no partner folder {other.name[:-1]}{side}"))
                    continue
                listing = list_images(folder)
                setattr(split, side.lower(), listing.images)
                split.skipped += listing.skipped
                split.problems += listing.problems
            splits[name] = split
        return DatasetLayout(root, "folders", splits)

    splits = {}
    for sub in subdirs:
        listing = list_images(sub)
        if listing.images or listing.problems:
            splits[sub.name] = SplitFiles(sub.name, aligned=listing.images, skipped=listing.skipped, problems=listing.problems)
    top = list_images(root)
    if top.images and not splits:
        splits[ALL_SPLIT] = SplitFiles(ALL_SPLIT, aligned=top.images, skipped=top.skipped, problems=top.problems)
    if not splits:
        found = ", ".join(p.name for p in subdirs) or "no sub-folders"
        raise DataError(
            f"{shown(root)}: no images found (expected train/ val/ test/ with A|B files, "
            f"or trainA/ trainB/ folders; found {found})"
        )
    ordered = dict(sorted(splits.items(), key=lambda kv: _split_order(kv[0])))
    return DatasetLayout(root, "aligned", ordered)


def _split_order(name: str) -> tuple[int, str]:
    order = {"train": 0, "val": 1, "test": 2, ALL_SPLIT: 3}
    return (order.get(name, 4), name)
