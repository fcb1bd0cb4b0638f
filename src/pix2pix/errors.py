"""Errors a user can cause and fix. The CLI prints them on one line and exits non-zero."""

from __future__ import annotations

import os


class Pix2PixError(Exception):
    """Base class: anything raised as this is the user's to fix, not a bug."""

    exit_code = 2


class ConfigError(Pix2PixError, ValueError):
    """An option or config file value is unknown or out of range."""


class DataError(Pix2PixError):
    """A dataset, folder or image cannot be used."""


class ImageError(DataError):
    """One image file cannot be decoded or has an unusable shape."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{shown(path)}: {reason}")


class CheckpointError(Pix2PixError):
    """A run directory or checkpoint is missing, corrupt or incompatible."""


class MissingDependencyError(Pix2PixError):
    """An optional extra is needed for this feature."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the '{package}' package: pip install 'pix2pix[{extra}]'"
        )


class TrainingDiverged(Pix2PixError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 3


def require(module: str, extra: str, feature: str):  # noqa: ANN201 - returns a module
    """Import an optional dependency lazily, with an install hint instead of a traceback."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra, feature) from exc


def shown(path: object) -> str:
    """A path as printable text, even when its name is not valid UTF-8."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
