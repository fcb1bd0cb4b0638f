"""Cold start of `pix2pix translate`: the default path against fp32 eager, for 1 to 1,000 images.

Each measurement is a fresh `pix2pix translate` process with an empty inductor
cache (so a compile, where the default makes one, is paid in full), timed from
start to exit: interpreter and torch start-up, model loading, compiling and
writing the PNGs included. The two sides alternate per count.

    python benchmarks/translate_cold.py [--size 256] [--counts 1,10,100,1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIDES = {"fp32 eager": ["--precision", "fp32", "--no-compile"], "default": []}


def make_run(root: Path, size: int) -> Path:
    """A run folder with the default generator at ``size`` (speed does not depend on the weights)."""
    from pix2pix.config import load_config
    from pix2pix.api import train

    data = root / "data" / "train"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (size, 2 * size, 3), dtype=np.uint8)).save(data / f"{i}.png")
    cfg = load_config(None, [f"data.crop_size={size}", f"data.load_size={size}", "train.max_steps=1", "data.num_workers=0",
                             "train.val_every=0", "train.sample_every=0", "data.val_fraction=0.25"])
    train(cfg, root / "data", root / "run", progress=False)
    return root / "run"


def write_inputs(folder: Path, count: int, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return folder


def time_translate(run: Path, inputs: Path, out: Path, options: list[str]) -> float:
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=tempfile.mkdtemp(prefix="inductor-"))
    started = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pix2pix", "translate", str(run), str(inputs), "--out", str(out), *options],
                       env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if r.returncode != 0:
        raise SystemExit(f"translate failed: {r.stderr[-1000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--counts", default="1,10,100,1000")
    parser.add_argument("--json", help="also write the figures to FILE")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    figures: dict[str, object] = {"cpu": cpu, "cores": os.cpu_count(), "size": args.size, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = make_run(root, args.size)
        print(f"pix2pix translate, cold start, {args.size} px, on {cpu} ({os.cpu_count()} cores)")
        print(f"{'images':>7}  " + "  ".join(f"{name:>12}" for name in SIDES) + "  default / fp32 eager")
        for count in counts:
            inputs = write_inputs(root / f"in{count}", count, args.size)
            seconds = {name: time_translate(run, inputs, root / f"out_{count}_{i}", options)
                       for i, (name, options) in enumerate(SIDES.items())}
            ratio = seconds["default"] / seconds["fp32 eager"]
            figures["rows"].append({"images": count, **{f"{k}_s": v for k, v in seconds.items()}, "ratio": ratio})
            print(f"{count:>7}  " + "  ".join(f"{seconds[name]:>11.1f}s" for name in SIDES) + f"  {ratio:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
