"""A corpus of bad and unusual inputs, built on the fly (no files in the repository)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def jpeg_bytes(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90, **kwargs)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring a huge image, a few bytes long."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def exif_rotated_jpeg(array: np.ndarray) -> bytes:
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


# name -> (bytes of a single image file, file suffix); every one of these is also used as an upload.
def single_files() -> dict[str, tuple[bytes, str]]:
    full = jpeg_bytes(noise(48, 48, 1))
    deep = (np.arange(48 * 48, dtype=np.uint32).reshape(48, 48) * 28).astype(np.uint16)
    return {
        "truncated_jpeg": (full[: len(full) // 2], ".jpg"),
        "zero_bytes": (b"", ".png"),
        "text_named_png": (b"this is not an image\n", ".png"),
        "png_16bit": (png_bytes(Image.fromarray(deep)), ".png"),
        "palette_png": (png_bytes(Image.fromarray(noise(48, 48, 2)).convert("P")), ".png"),
        "cmyk_jpeg": (_cmyk(noise(48, 48, 3)), ".jpg"),
        "exif_rotated": (exif_rotated_jpeg(noise(40, 56, 4)), ".jpg"),
        "one_pixel": (png_bytes(Image.new("RGB", (1, 1), (200, 10, 10))), ".png"),
        "decompression_bomb": (bomb_png(), ".png"),
        "rgba_png": (png_bytes(Image.fromarray(np.dstack([noise(48, 48, 5), np.full((48, 48), 128, np.uint8)]), "RGBA")), ".png"),
        "grey_png": (png_bytes(Image.fromarray(noise(48, 48, 6)[:, :, 0])), ".png"),
        "png_named_jpg": (png_bytes(Image.fromarray(noise(48, 48, 7))), ".jpg"),
    }


def _cmyk(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("CMYK").save(buffer, format="JPEG")
    return buffer.getvalue()


GOOD = {"png_16bit", "palette_png", "cmyk_jpeg", "exif_rotated", "one_pixel", "rgba_png", "grey_png", "png_named_jpg"}
BAD = {"truncated_jpeg": "cannot decode", "zero_bytes": "not an image", "text_named_png": "not an image",
       "decompression_bomb": "pixel limit"}


def build_dataset(root: Path) -> dict[str, str]:
    """DATA/{trainA,trainB} with good pairs and every kind of pair problem.

    Returns {file name fragment: what check-data must say about it}.
    """
    a, b = root / "trainA", root / "trainB"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    for i in range(3):  # good pairs
        Image.fromarray(noise(48, 48, 10 + i)).save(a / f"good{i}_A.png")
        Image.fromarray(noise(48, 48, 20 + i)).save(b / f"good{i}_B.png")
    expected: dict[str, str] = {}
    for name, (data, suffix) in single_files().items():
        (a / f"{name}_A{suffix}").write_bytes(data)
        if name in BAD:
            Image.fromarray(noise(48, 48, 30)).save(b / f"{name}_B.png")
            expected[f"{name}_A{suffix}"] = BAD[name]
    # exif_rotated is stored 56 wide, 40 high and displays rotated: 40 wide, 56 high, like its partner
    for name in GOOD:
        size = (40, 56) if name == "exif_rotated" else ((1, 1) if name == "one_pixel" else (48, 48))
        Image.new("RGB", size, (90, 90, 90)).save(b / f"{name}_B.png")
    Image.fromarray(noise(48, 48, 39)).save(a / "mismatch_A.png")  # pair with different sizes
    Image.fromarray(noise(30, 48, 40)).save(b / "mismatch_B.png")
    expected["mismatch_B.png"] = "differs from its partner"
    Image.fromarray(noise(48, 48, 41)).save(a / "lonely_A.png")  # A without B
    expected["lonely_A.png"] = "no partner in trainB"
    (a / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # skipped, not a problem
    (a / "dangling_A.png").symlink_to(root / "gone.png")
    expected["dangling_A.png"] = "broken symbolic link"
    (a / "loop_A.png").symlink_to(a / "loop_A.png")
    expected["loop_A.png"] = "loop_A.png"
    (a / "folder_A.png").mkdir()  # a folder where a file is expected: not an image, ignored
    weird = os.fsencode(str(a)) + b"/caf\xe9_A.png"  # a Latin-1 (non-UTF-8) file name
    with open(weird, "wb") as fh:
        fh.write(png_bytes(Image.fromarray(noise(48, 48, 42))))
    with open(os.fsencode(str(b)) + b"/caf\xe9_B.png", "wb") as fh:
        fh.write(png_bytes(Image.fromarray(noise(48, 48, 43))))
    with open(os.fsencode(str(a)) + b"/d\xe9fect_A.png", "wb") as fh:  # a non-UTF-8 name on a problem line
        fh.write(b"not a png")
    Image.fromarray(noise(48, 48, 44)).save(b / "d_partner_B.png")
    os.rename(b / "d_partner_B.png", os.fsencode(str(b)) + b"/d\xe9fect_B.png")
    expected["d\\xe9fect_A.png"] = "not an image"  # shown with the undecodable byte escaped
    return expected


def build_aligned_odd(root: Path) -> Path:
    """An aligned dataset whose one file has an odd width (cannot split into A|B)."""
    (root / "train").mkdir(parents=True)
    Image.fromarray(noise(32, 64, 50)).save(root / "train" / "ok.png")
    Image.fromarray(noise(32, 63, 51)).save(root / "train" / "odd.png")
    return root
