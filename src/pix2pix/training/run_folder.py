"""The run folder as training sets it up: refused when it already holds a run, its config.toml and
run.json written, and rank 0's lock on it while it trains."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import Config, to_toml
from ..data.io import atomic_write
from ..errors import ConfigError, shown
from ..runs import checkpoints as ckpt
from .data_setup import TrainingData
from .run_lock import RunLock


def prepare_run_dir(run: Path) -> None:
    paths = ckpt.RunPaths(run)
    if paths.checkpoints.exists() and any(paths.checkpoints.iterdir()):
        raise ConfigError(
            f"{shown(run)} already holds a run; continue it with 'pix2pix train --resume {shown(run)}' "
            "or choose another --out"
        )
    if run.exists() and not run.is_dir():
        raise ConfigError(f"--out {shown(run)}: is a file, expected a folder")
    run.mkdir(parents=True, exist_ok=True)


def write_run_files(cfg: Config, run: Path, data: str, training: TrainingData) -> None:
    paths = ckpt.RunPaths(run)
    atomic_write(paths.config, lambda fh: fh.write(to_toml(cfg)), mode="w")
    meta = {"version": __version__, "data": data, "method": cfg.model.method, "channels": list(training.channels),
            "input_palette": training.input_palette}
    atomic_write(run / "run.json", lambda fh: fh.write(json.dumps(meta, indent=2) + "\n"), mode="w")


def run_lock(run: Path, main: bool) -> AbstractContextManager[Any]:
    """Rank 0 holds the run folder's lock while it trains (the other ranks write nothing)."""
    if not main:
        return nullcontext()
    if run.exists() and not run.is_dir():
        raise ConfigError(f"--out {shown(run)}: is a file, expected a folder")
    return RunLock(run)
