from pathlib import Path

import numpy as np
import pytest

from pix2pix.config import DataConfig
from pix2pix.data.check import check_dataset
from pix2pix.data.layout import detect_layout, pair_by_stem, pair_key
from pix2pix.data.sources import open_pairs
from pix2pix.errors import DataError

from conftest import make_folder_dataset, save


@pytest.mark.parametrize(
    "stem, key",
    [("1_A", "1"), ("1_B", "1"), ("12", "12"), ("img-A", "img"), ("3_fake_B", "3"), ("3_real_B", "3"), ("_A", "_A"), ("A", "A")],
)
def test_pair_key(stem, key):
    assert pair_key(stem) == key


def test_pair_by_stem_mixed_naming():
    left = [Path("a/1_A.jpg"), Path("a/2_A.jpg"), Path("a/10_A.jpg"), Path("a/7_A.jpg")]
    right = [Path("b/1.jpg"), Path("b/2_B.png"), Path("b/10_B.jpg"), Path("b/9_B.jpg")]
    pairing = pair_by_stem(left, right, "trainA", "trainB")
    assert [k for k, _, _ in pairing.pairs] == ["1", "2", "10"]  # natural order
    messages = sorted(str(p) for p in pairing.problems)
    assert any("7_A.jpg: no partner in trainB" in m for m in messages)
    assert any("9_B.jpg: no partner in trainA" in m for m in messages)


def test_duplicate_keys_are_reported():
    pairing = pair_by_stem([Path("1.png"), Path("1_A.jpg")], [Path("1.png")])
    assert len(pairing.pairs) == 1
    assert any("same pairing name" in str(p) for p in pairing.problems)


def test_facades_mini(facades: Path):
    report = check_dataset(facades)
    assert {name: len(s) for name, s in report.splits.items()} == {"train": 11, "test": 11}
    text = "\n".join(report.lines())
    assert "paired folders" in text and ".DS_Store" in text
    assert "skipped 4 non-image file(s)" in text
    assert "problems: none" in text


def test_aligned_layout(aligned_data: Path):
    layout = detect_layout(aligned_data)
    assert layout.kind == "aligned" and list(layout.splits) == ["train", "val", "test"]
    source = open_pairs(aligned_data, "train", DataConfig())
    a, b = source.load(0)
    assert a.shape == b.shape == (40, 40, 3)
    assert np.array_equal(b, 255 - a)  # the two halves of one file


def test_folder_layout_and_bare_ab(tmp_path: Path):
    root = make_folder_dataset(tmp_path / "d", {"train": 3})
    assert detect_layout(root).kind == "folders"
    flat = tmp_path / "flat"
    (root / "trainA").rename(tmp_path / "A")
    (root / "trainB").rename(tmp_path / "B")
    flat.mkdir()
    (tmp_path / "A").rename(flat / "A")
    (tmp_path / "B").rename(flat / "B")
    layout = detect_layout(flat)
    assert list(layout.splits) == ["all"]
    assert len(open_pairs(flat, "train", DataConfig())) == 3  # "all" serves any split


def test_problems_are_reported_not_fatal(tmp_path: Path):
    root = make_folder_dataset(tmp_path / "d", {"train": 4})
    (root / "trainA" / "0_A.png").write_bytes(b"junk")  # unreadable
    (root / "trainB" / "3_B.png").unlink()  # A without B
    save(np.zeros((20, 20, 3), np.uint8), root / "trainB" / "1_B.png")  # size mismatch
    (root / "trainA" / "notes.txt").write_text("hi")
    report = check_dataset(root)
    assert len(report.splits["train"]) == 1
    text = "\n".join(report.lines())
    assert "0_A.png: not an image" in text
    assert "3_A.png: no partner in trainB" in text
    assert "differs from its partner" in text
    assert "notes.txt" in text


def test_odd_width_aligned(tmp_path: Path):
    save(np.zeros((10, 21, 3), np.uint8), tmp_path / "d" / "train" / "x.png")
    report = check_dataset(tmp_path / "d")
    assert report.usable_pairs == 0
    assert "odd width" in "\n".join(report.lines())


def test_mixed_grey_and_rgb_resolve_to_rgb(tmp_path: Path):
    root = make_folder_dataset(tmp_path / "d", {"train": 2})
    save(np.full((40, 40, 1), 9, np.uint8), root / "trainA" / "0_A.png")
    source = open_pairs(root, "train", DataConfig())
    assert source.channels == (3, 3)
    assert source.load(0)[0].shape == (40, 40, 3)


def test_grey_side_gets_one_channel(tmp_path: Path):
    root = tmp_path / "d"
    for i in range(2):
        save(np.full((16, 16, 1), i * 50, np.uint8), root / "trainA" / f"{i}.png")
        save(np.full((16, 16, 3), i * 50, np.uint8), root / "trainB" / f"{i}.png")
    source = open_pairs(root, "train", DataConfig())
    assert source.channels == (1, 3)
    # the config can force a count (direction decides which side is the input)
    forced = open_pairs(root, "train", DataConfig(input_channels=3, direction="AtoB"))
    assert forced.channels == (3, 3)


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_unusable_roots(tmp_path: Path, kind):
    path = tmp_path / "x"
    if kind == "file":
        path.write_text("x")
    elif kind == "empty":
        path.mkdir()
    with pytest.raises(DataError) as info:
        detect_layout(path)
    assert "x" in str(info.value) and "\n" not in str(info.value)


def test_broken_symlink_is_a_problem(tmp_path: Path):
    root = make_folder_dataset(tmp_path / "d", {"train": 2})
    (root / "trainA" / "5_A.png").symlink_to(tmp_path / "gone.png")
    (root / "trainB" / "5_B.png").symlink_to(root / "trainB" / "5_B.png")  # loop
    report = check_dataset(root)
    text = "\n".join(report.lines())
    assert "5_A.png" in text and "5_B.png" in text
    assert len(report.splits["train"]) == 2


def test_missing_split_lists_the_found_ones(folder_data: Path):
    with pytest.raises(DataError, match="no 'val' split \\(found: train, test\\)"):
        open_pairs(folder_data, "val", DataConfig())


def test_demo_source_is_deterministic():
    cfg = DataConfig(demo_size=32)
    first = open_pairs("demo:shapes", "train", cfg).load(3)
    again = open_pairs("demo:shapes", "train", cfg).load(3)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    other = open_pairs("demo:shapes", "test", cfg).load(3)
    assert not np.array_equal(first[0], other[0])
    with pytest.raises(DataError, match="unknown demo dataset"):
        open_pairs("demo:nope", "train", cfg)
