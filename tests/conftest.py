"""Shared fixtures: tiny datasets written on the fly, tiny configs, the real facades-mini data."""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix.config import Config, load_config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))  # the research code's networks, re-created there (research_nets.py)
FACADES = Path(os.environ.get("PIX2PIX_FACADES", REPO.parent / "shared" / "data" / "facades-mini"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

torch.set_num_threads(min(2, torch.get_num_threads()))


def require_or_skip(condition: bool, reason: str) -> None:
    """Skip when something optional is missing, except in CI where it must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


@pytest.fixture
def facades() -> Path:
    require_or_skip(FACADES.is_dir(), f"real data not found at {FACADES}")
    return FACADES


def tiny_overrides(**extra: object) -> list[str]:
    """Settings for a model that trains in well under a second per step on 32 px images."""
    values = {
        "data.load_size": 36,
        "data.crop_size": 32,
        "data.num_workers": 0,
        "model.ngf": 8,
        "model.ndf": 8,
        "train.log_every": 1,
        "train.val_every": 0,
        "train.sample_every": 0,
        "train.checkpoint_minutes": 0,
        "train.val_images": 4,
        "train.sample_images": 2,
        "data.demo_size": 32,
    }
    values.update({k.replace("__", "."): v for k, v in extra.items()})
    return [f"{k}={v}" for k, v in values.items()]


def tiny_config(*overrides: str, **extra: object) -> Config:
    return load_config(None, tiny_overrides(**extra) + list(overrides))


def pattern_pair(index: int, size: int = 40, grey_a: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic pair: B is a simple function of A, so tiny runs can learn it."""
    rng = np.random.default_rng(index)
    a = np.zeros((size, size, 3), dtype=np.uint8)
    for _ in range(3):
        x, y = rng.integers(0, size - 8, size=2)
        a[y : y + 8, x : x + 8] = rng.integers(0, 256, size=3)
    b = (255 - a).astype(np.uint8)
    if grey_a:
        a = a.mean(axis=2, keepdims=True).astype(np.uint8)
    return a, b


def save(array: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path)
    return path


def logged_step(run: Path) -> int:
    """The last training step a run's log.jsonl has reached (0 before the first); torn lines are skipped."""
    import json

    try:
        lines = (run / "log.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    steps = [json.loads(line)["step"] for line in lines[-3:] if line.strip().endswith("}") and '"train"' in line]
    return max(steps, default=0)


@dataclass
class Dataset:
    root: Path


def make_folder_dataset(root: Path, splits: dict[str, int], size: int = 40, suffixes: bool = True, ext: str = "png") -> Path:
    """DATA/{splitA,splitB} with N_A / N_B names (or bare N when ``suffixes`` is False)."""
    for split, count in splits.items():
        for i in range(count):
            a, b = pattern_pair(i + 1000 * sum(map(ord, split)), size)
            sa, sb = ("_A", "_B") if suffixes else ("", "")
            save(a, root / f"{split}A" / f"{i}{sa}.{ext}")
            save(b, root / f"{split}B" / f"{i}{sb}.{ext}")
    return root


def make_aligned_dataset(root: Path, splits: dict[str, int], size: int = 40) -> Path:
    """DATA/{train,val,test}/N.jpg holding A|B side by side."""
    for split, count in splits.items():
        for i in range(count):
            a, b = pattern_pair(i + 31 * len(split), size)
            save(np.concatenate([a, b], axis=1), root / split / f"{i}.png")
    return root


@pytest.fixture
def folder_data(tmp_path: Path) -> Path:
    return make_folder_dataset(tmp_path / "data", {"train": 6, "test": 3})


@pytest.fixture
def aligned_data(tmp_path: Path) -> Path:
    return make_aligned_dataset(tmp_path / "aligned", {"train": 6, "val": 2, "test": 2})


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*argv: str) -> CliResult:
    """Run the CLI in-process (no torch import cost), capturing output and the exit code."""
    from pix2pix.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A briefly trained 64 px pix2pix run (U-Net depth 6 with a dropout block, batch norm)."""
    from pix2pix.api import train

    root = tmp_path_factory.mktemp("trained")
    data = make_folder_dataset(root / "data", {"train": 8, "test": 2}, size=64)
    cfg = load_config(None, tiny_overrides(data__load_size=72, data__crop_size=64, model__ngf=8, model__ndf=8,
                                           train__max_steps=40, train__batch_size=2))
    train(cfg, data, root / "run", progress=False)
    return root / "run"
