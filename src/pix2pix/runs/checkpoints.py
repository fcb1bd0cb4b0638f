"""Checkpoints: atomic writes, checksums, exact RNG state, and finding them again.

A checkpoint is a ``torch.save`` dict of plain types (loadable with
``weights_only=True``), written to a temp file, fsynced and renamed, so the
previous file survives any crash. A ``.sha256`` file beside it lets a damaged
copy be told apart from a good one; loading falls back to the previous
checkpoint with a warning.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..config import Config
from ..data.io import _fsync_dir, atomic_write
from ..errors import CheckpointError, shown
from ..methods import resolve

FORMAT = 1
LATEST, BEST = "latest.pt", "best.pt"
_PERIODIC = re.compile(r"^step_(\d+)\.pt$")


@dataclass(frozen=True)
class RunPaths:
    """Where everything of a run lives."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def log(self) -> Path:
        return self.root / "log.jsonl"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def results(self) -> Path:
        return self.root / "results"

    def periodic(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:07d}.pt"


def rng_state() -> dict[str, Any]:
    """Every RNG the training step can draw from, as plain types."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuples(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically, with its checksum beside it.

    Both files are written in full (and fsynced) under temporary names before
    either is renamed into place, so running out of disk or being killed while
    writing leaves the previous checkpoint as it was.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getbuffer()
    digest = hashlib.sha256(payload).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in ((path, bytes(payload)), (_sidecar(path), f"{digest}  {path.name}\n".encode())):
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            staged.append((tmp, target))
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    _fsync_dir(path.parent)
    return path


def link_checkpoint(source: Path, target: Path) -> None:
    """Make ``target`` the same checkpoint as ``source`` (hard link when possible), atomically."""
    for src, dst in ((source, target), (_sidecar(source), _sidecar(target))):
        tmp = dst.with_name(f".{dst.name}.link")
        try:
            tmp.unlink(missing_ok=True)
            os.link(src, tmp)
        except OSError:
            atomic_write(dst, lambda fh, s=src: fh.write(s.read_bytes()))
            continue
        os.replace(tmp, dst)


def verify(path: Path, retries: int = 3, wait_s: float = 0.2) -> bytes:
    """The checkpoint's bytes, after checking them against the checksum file when present.

    A run that is training renames a new checkpoint into place a moment before its
    checksum file; a reader (test, translate) caught in between sees a mismatch
    that resolves itself, so a mismatch is re-read ``retries`` times before it counts.
    """
    for attempt in range(retries + 1):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{shown(path)}: checkpoint not found") from None
        except IsADirectoryError:
            raise CheckpointError(f"{shown(path)}: is a folder, expected a checkpoint file") from None
        sidecar = _sidecar(path)
        try:
            expected = sidecar.read_text(errors="replace").split()[:1]
        except FileNotFoundError:
            return data
        if not expected or hashlib.sha256(data).hexdigest() == expected[0]:
            return data
        if attempt < retries:
            time.sleep(wait_s)
    raise CheckpointError(f"{shown(path)}: checksum mismatch (truncated or corrupt file)")


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check one checkpoint file."""
    data = verify(path)
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"{shown(path)}: not a readable checkpoint ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(state, dict) or "networks" not in state or "config" not in state:
        raise CheckpointError(f"{shown(path)}: not a pix2pix checkpoint (no networks/config inside)")
    if state.get("format", 0) > FORMAT:
        raise CheckpointError(f"{shown(path)}: written by a newer pix2pix ({state.get('version')}); upgrade to load it")
    return state


def remove_stale_temps(folder: Path) -> None:
    """Temp files left by a write that was killed (never a checkpoint: they were not renamed)."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(".") and (path.name.endswith(".tmp") or path.name.endswith(".link")):
                path.unlink(missing_ok=True)


def periodic_checkpoints(folder: Path) -> list[Path]:
    """Periodic checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _PERIODIC.match(p.name))]
    return [p for _, p in sorted(found)]


def prune_periodic(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` periodic checkpoints."""
    old = periodic_checkpoints(folder)
    for path in old[: max(0, len(old) - keep)]:
        path.unlink(missing_ok=True)
        _sidecar(path).unlink(missing_ok=True)


def load_resumable(run: Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], Path]:
    """The newest intact checkpoint of a run: latest, else periodic ones newest first."""
    paths = RunPaths(run)
    if not run.is_dir():
        raise CheckpointError(f"{shown(run)}: run folder not found")
    candidates = [paths.checkpoints / LATEST] + periodic_checkpoints(paths.checkpoints)[::-1]
    candidates = [p for p in candidates if p.exists()]
    if not candidates:
        raise CheckpointError(f"{shown(run)}: no checkpoint to resume from in {shown(paths.checkpoints)}")
    candidates.sort(key=lambda p: _step_hint(p), reverse=True)
    errors = []
    for path in candidates:
        try:
            return load_checkpoint(path, map_location), path
        except CheckpointError as exc:
            errors.append(str(exc))
            print(f"warning: {exc}; trying an older checkpoint", file=sys.stderr)
    raise CheckpointError(f"{shown(run)}: no intact checkpoint ({errors[0]})")


def _step_hint(path: Path) -> int:
    match = _PERIODIC.match(path.name)
    if match:
        return int(match.group(1))
    return 1 << 62  # latest first


def find_model_checkpoint(path: str | Path, which: str = "best") -> Path:
    """A checkpoint file from a run folder (best, else latest) or a file path."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise CheckpointError(f"{shown(path)}: no such run folder or checkpoint file")
    folder = RunPaths(path).checkpoints
    order = {"best": [BEST, LATEST], "latest": [LATEST, BEST]}.get(which)
    if order is None:
        raise CheckpointError(f"--checkpoint: '{which}' is not one of best, latest (or give a file)")
    for name in order:
        if (folder / name).exists():
            return folder / name
    periodic = periodic_checkpoints(folder)
    if periodic:
        return periodic[-1]
    raise CheckpointError(f"{shown(path)}: no checkpoint found (expected {shown(folder / LATEST)})")


def checkpoint_config(state: dict[str, Any]) -> Config:
    """The resolved config a checkpoint was trained with."""
    try:
        return resolve(Config.from_saved(state["config"]))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint holds an unusable config: {exc}") from None


def base_state(cfg: Config, method: str, channels: tuple[int, int], networks: dict[str, torch.nn.Module]) -> dict[str, Any]:
    """What every checkpoint carries: enough to rebuild the networks alone."""
    return {
        "format": FORMAT,
        "version": __version__,
        "config": cfg.to_dict(),
        "method": method,
        "channels": list(channels),
        "networks": {name: clean_state_dict(net) for name, net in networks.items()},
    }


def clean_state_dict(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """State dict without DDP's ``module.`` or torch.compile's ``_orig_mod.`` prefixes."""
    inner = getattr(net, "module", net)
    inner = getattr(inner, "_orig_mod", inner)
    return {k: v.detach() for k, v in inner.state_dict().items()}
