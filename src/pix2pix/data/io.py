"""Decoding and writing image files: the only place that touches pixels on disk.

Every decoded image is a ``uint8`` numpy array of shape (H, W, C) with C = 1 or 3
(or 4 when asked for), whatever the file held: palette, 16-bit, CMYK, alpha and
EXIF-rotated images are all normalised here, so nothing downstream has to care.
"""

from __future__ import annotations

import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm", ".gif"}
)
# Larger images are refused before decoding (a "decompression bomb" declares a
# huge size in a tiny file). PIL's own warning threshold, as an error.
MAX_PIXELS = 89_478_485

_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def is_image_name(path: Path) -> bool:
    """True for files that look like images by name (hidden files such as .DS_Store are not)."""
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class ImageInfo:
    """What the file header says, read without decoding pixels."""

    width: int
    height: int
    channels: int  # 1 for grey modes, 3 for colour (alpha is composited away)


class ImageTooLarge(ImageError):
    """The declared size is over the pixel limit (checked before decoding)."""


def _open(source: Path | BinaryIO, label: object, max_pixels: int = MAX_PIXELS) -> Image.Image:
    try:
        if isinstance(source, Path) and source.is_dir():
            raise ImageError(label, "is a directory, not an image file")
        img = Image.open(source)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(label, "file not found (or a dangling link)") from None
    except UnidentifiedImageError:
        raise ImageError(label, "not an image (or an unsupported format)") from None
    except Image.DecompressionBombError:
        raise ImageTooLarge(label, "declares an absurdly large size, over the pixel limit (decompression bomb?)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(label, f"cannot open: {_reason(exc)}") from None
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise ImageTooLarge(label, f"image is {width}x{height}, larger than the {max_pixels:,} pixel limit")
    if width < 1 or height < 1:
        img.close()
        raise ImageError(label, "image has zero size")
    return img


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def probe_image(path: str | Path) -> ImageInfo:
    """Size and channel count from the header (cheap: no pixel decoding)."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open(path, path)
    with img:
        width, height = img.size
        orientation = 1
        try:
            orientation = int(img.getexif().get(0x0112, 1))
        except Exception:  # noqa: BLE001 - a broken EXIF block only loses rotation info
            orientation = 1
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        return ImageInfo(width, height, 1 if img.mode in _GREY_MODES else 3)


def read_image(path: str | Path, channels: int | None = None, keep_alpha: bool = False) -> np.ndarray:
    """Decode a file into (H, W, C) uint8, upright (EXIF), with ``channels`` channels.

    Args:
        path: image file.
        channels: 1, 3 or 4; None keeps the file's own (1 for grey, else 3, or 4
            for images with alpha when ``keep_alpha``).
    Raises:
        ImageError: unreadable, truncated, not an image, or absurdly large.
    """
    path = Path(path)
    return _decode(path, path, channels, MAX_PIXELS, keep_alpha)


def decode_image(data: bytes, label: str = "<upload>", channels: int | None = None, max_pixels: int = MAX_PIXELS,
                 keep_alpha: bool = False) -> np.ndarray:
    """``read_image`` for bytes in memory (uploads); ``ImageTooLarge`` above ``max_pixels``."""
    return _decode(io.BytesIO(data), label, channels, max_pixels, keep_alpha)


def _decode(source: Path | BinaryIO, label: object, channels: int | None, max_pixels: int, keep_alpha: bool = False) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open(source, label, max_pixels)
        with img:
            try:
                img.load()
                img = ImageOps.exif_transpose(img)
                array = pil_to_array(img)
            except ImageError:
                raise
            except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
                raise ImageError(label, f"cannot decode: {_reason(exc)}") from None
    if channels is None:
        channels = array.shape[2] if keep_alpha else (1 if array.shape[2] == 1 else 3)
    return convert_channels(array, channels)


def pil_to_array(img: Image.Image) -> np.ndarray:
    """Normalise any PIL mode to uint8 (H, W, 1), (H, W, 3) or (H, W, 4) (alpha kept)."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if (mode.startswith("I;16") or values.max(initial=0) > 255) else 255.0
        if mode == "F" and values.max(initial=0) <= 1.0:
            top = 1.0
        array = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
        return array[:, :, None]
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("1", "L"):
        return np.asarray(img.convert("L"), dtype=np.uint8)[:, :, None]
    elif mode in ("LA", "La"):
        img = img.convert("RGBA")
        rgb = _composite_on_white(np.asarray(img, dtype=np.uint8))
        return rgb[:, :, :1]
    elif mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    return np.array(img, dtype=np.uint8)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Drop alpha the way a viewer shows it: transparent pixels become white."""
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def convert_channels(array: np.ndarray, channels: int) -> np.ndarray:
    """Convert (H, W, C) uint8 between grey (1), RGB (3) and RGBA (4)."""
    have = array.shape[2]
    if have == channels:
        return array
    if have == 4:
        if channels == 3:
            return _composite_on_white(array)
        rgb = _composite_on_white(array)
        return _rgb_to_grey(rgb)
    if have == 3:
        if channels == 1:
            return _rgb_to_grey(array)
        alpha = np.full(array.shape[:2] + (1,), 255, dtype=np.uint8)
        return np.concatenate([array, alpha], axis=2)
    if have == 1:
        rgb = np.repeat(array, 3, axis=2)
        return rgb if channels == 3 else convert_channels(rgb, 4)
    raise ValueError(f"cannot convert {have} channels to {channels}")


def _rgb_to_grey(rgb: np.ndarray) -> np.ndarray:
    # ITU-R 601 luma, as PIL's convert("L").
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    grey = rgb[:, :, :3].astype(np.float32) @ weights
    return np.clip(np.round(grey), 0, 255).astype(np.uint8)[:, :, None]


def to_pil(array: np.ndarray) -> Image.Image:
    """(H, W, C) uint8 -> PIL image (L, RGB or RGBA)."""
    if array.ndim == 3 and array.shape[2] == 1:
        return Image.fromarray(array[:, :, 0], mode="L")
    return Image.fromarray(array)


def write_image(array: np.ndarray, path: str | Path) -> Path:
    """Write (H, W, C) uint8 atomically: a reader never sees a half-written file."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    return atomic_write(path, lambda fh: to_pil(array).save(fh, format=fmt))


def atomic_write(path: Path, writer, mode: str = "wb") -> Path:  # noqa: ANN001 - writer(fh)
    """Write through a temp file in the same folder, fsync, then rename over ``path``.

    The temp name is chosen before the file exists and everything from its creation on sits
    inside the cleanup, so a stop signal (KeyboardInterrupt) arriving at any point, even just
    after the file is created, leaves no ``.tmp`` behind (``mkstemp`` has a window there).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")  # no one else's name
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, mode) as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if not (isinstance(exc, FileExistsError) and exc.filename == str(tmp)):  # never remove another's file
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
