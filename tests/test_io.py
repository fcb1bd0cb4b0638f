"""Decoding every kind of image file into (H, W, C) uint8, and refusing broken ones."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix.data.io import ImageError, convert_channels, probe_image, read_image, write_image


def rgb(h=8, w=12):
    return (np.arange(h * w * 3, dtype=np.uint16).reshape(h, w, 3) % 251).astype(np.uint8)


def test_rgb_and_grey(tmp_path: Path):
    Image.fromarray(rgb()).save(tmp_path / "c.png")
    Image.fromarray(rgb()[:, :, 0]).save(tmp_path / "g.png")
    assert read_image(tmp_path / "c.png").shape == (8, 12, 3)
    assert np.array_equal(read_image(tmp_path / "c.png"), rgb())
    grey = read_image(tmp_path / "g.png")
    assert grey.shape == (8, 12, 1) and np.array_equal(grey[:, :, 0], rgb()[:, :, 0])
    assert read_image(tmp_path / "g.png", channels=3).shape == (8, 12, 3)
    assert probe_image(tmp_path / "g.png").channels == 1


def test_rgba_is_composited_on_white(tmp_path: Path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red, bottom transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == (200, 0, 0) and tuple(out[3, 0]) == (255, 255, 255)
    assert read_image(tmp_path / "a.png", channels=4).shape == (4, 4, 4)


def test_palette_16bit_cmyk(tmp_path: Path):
    Image.fromarray(rgb()).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (8, 12, 3)
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    out = read_image(tmp_path / "d.png")
    assert out.shape == (8, 8, 1) and out.dtype == np.uint8
    assert out[7, 7, 0] == round(63000 / 65535 * 255)
    Image.fromarray(rgb()).convert("CMYK").save(tmp_path / "k.jpg")
    assert read_image(tmp_path / "k.jpg").shape == (8, 12, 3)


def test_exif_rotation_is_applied(tmp_path: Path):
    img = Image.fromarray(rgb(6, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW to display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "r.jpg").shape == (10, 6, 3)
    info = probe_image(tmp_path / "r.jpg")
    assert (info.width, info.height) == (6, 10)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.png", b"", "not an image"),
        ("text.png", b"hello, I am text", "not an image"),
    ],
)
def test_not_images(tmp_path: Path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageError, match=message):
        read_image(tmp_path / name)


def test_truncated_jpeg(tmp_path: Path):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.jpg: cannot decode"):
        read_image(tmp_path / "cut.jpg")


def test_decompression_bomb_refused_before_decoding(tmp_path: Path):
    # A valid PNG header declaring 100000 x 100000 pixels.
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(ImageError, match="bomb|pixel limit"):
        read_image(tmp_path / "bomb.png")
    with pytest.raises(ImageError):
        probe_image(tmp_path / "bomb.png")


def test_missing_and_directory(tmp_path: Path):
    with pytest.raises(ImageError, match="not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="directory"):
        read_image(tmp_path)


def test_convert_channels_round_trip():
    image = rgb()
    assert np.array_equal(convert_channels(convert_channels(image, 4), 3), image)
    grey = convert_channels(image, 1)
    assert grey.shape == (8, 12, 1)
    assert np.array_equal(convert_channels(grey, 3)[:, :, 1], grey[:, :, 0])


def test_write_image_is_atomic_and_leaves_no_temp(tmp_path: Path):
    path = write_image(rgb(), tmp_path / "sub" / "x.png")
    assert np.array_equal(read_image(path), rgb())
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]


def test_a_stop_signal_just_after_the_temp_file_is_created_leaves_nothing(tmp_path: Path, monkeypatch):
    """The signal's KeyboardInterrupt can land between creating the temp file and anything after."""
    real_open = os.open

    def open_then_interrupted(file, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        fd = real_open(file, flags, *args, **kwargs)
        if str(file).endswith(".tmp"):
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    write_image(rgb(), tmp_path / "x.png")
    monkeypatch.setattr(os, "open", open_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(rgb() // 2, tmp_path / "x.png")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    assert np.array_equal(read_image(tmp_path / "x.png"), rgb())  # the finished file is untouched


def test_written_files_get_the_usual_permissions(tmp_path: Path):
    umask = os.umask(0o022)
    try:
        path = write_image(rgb(), tmp_path / "x.png")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not a temp file's private 0o600
