"""CUT against CycleGAN on unpaired data at equal wall-clock: facades with its pairing ignored.

    python benchmarks/unpaired.py [--budget 600] [--seeds 2] [--size 128] [--json FILE]

The facades training photos (A) and label maps (B) become two unpaired
collections: each side's files get names drawn from an independent shuffle, so
no file pairs with its partner (no validation score can use the pairing either;
CycleGAN validates on cycle consistency, CUT then has none). Both methods train
with ``pix2pix train`` for the same ``train.max_minutes``. Scored on the test
split, where the true partners are known: labels -> photo by L1 and SSIM,
photo -> labels also by the facades palette's per-pixel accuracy. CycleGAN
learns both directions in one run; CUT, one-way, runs once per direction.
Training speed (images/s) and the training process's peak memory go beside them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE.parent.parent / "shared" / "data" / "facades"


def unpaired_folder(root: Path, size: int) -> Path:
    """trainA/trainB with independent shuffled names; testA/testB keep the pairing (for scoring only)."""
    from pix2pix.data.io import read_image, write_image
    from pix2pix.data.transforms import resize

    folder = root / "facades_unpaired"
    for split in ("train", "test"):
        files = sorted((DATA / split).glob("*.jpg"), key=lambda p: int(p.stem))
        names_a = np.random.default_rng(1).permutation(len(files)) if split == "train" else np.arange(len(files))
        names_b = np.random.default_rng(2).permutation(len(files)) if split == "train" else np.arange(len(files))
        for path, na, nb in zip(files, names_a, names_b):
            ab = read_image(path)
            half = ab.shape[1] // 2
            write_image(resize(ab[:, :half], size, size), folder / f"{split}A" / f"a{na}.png")
            write_image(resize(ab[:, half:], size, size), folder / f"{split}B" / f"{'b' if split == 'train' else 'a'}{nb}.png")
    return folder


def train_run(data: Path, run: Path, method: str, direction: str, seed: int, budget: float, size: int) -> dict[str, Any]:
    sets = [f"model.method={method}", f"data.direction={direction}", f"data.crop_size={size}",
            f"data.load_size={round(size * 286 / 256)}", f"train.seed={seed}", f"train.max_minutes={budget / 60}",
            "train.sample_every=0", "train.val_every=200"]
    command = [sys.executable, "-m", "pix2pix", "train", str(data), "--out", str(run), "--no-progress",
               *[a for s in sets for a in ("--set", s)]]
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    started = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{method} failed: {r.stderr[-2000:]}")
    from pix2pix.runs.checkpoints import load_checkpoint

    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    return {"steps": int(state["step"]), "train_seconds": float(state["train_seconds"]), "wall_s": time.perf_counter() - started,
            "img_per_s": int(state["step"]) / float(state["train_seconds"]), "peak_mb": int(r.stdout.split()[-1]) / 1024}


def score(run: Path, data: Path, direction: str) -> dict[str, float]:
    """Translate the test images the dataset's ``direction`` way (BtoA: labels -> photo) with the run's
    generator for it, and compare with the true partners."""
    from pix2pix import Translator
    from pix2pix.data.io import read_image
    from pix2pix.evaluation.segmentation import confusion, load_palette, segmentation_scores
    from pix2pix.inference import load_model
    from pix2pix.metrics import image_metrics, mean_metrics

    source, target = ("testB", "testA") if direction == "BtoA" else ("testA", "testB")
    model = load_model(run, "best")
    trained = model.config.data.direction  # the run's AtoB generator translates that way; BtoA (CycleGAN) back
    translator = Translator(model, scale="native", direction="AtoB" if direction == trained else "BtoA")
    names = sorted(p.name for p in (data / source).glob("*.png"))
    outputs = translator.translate_arrays([read_image(data / source / n) for n in names])
    targets = [read_image(data / target / n) for n in names]
    result = mean_metrics([image_metrics(o, t) for o, t in zip(outputs, targets)])
    result = {k: result[k] for k in ("L1", "SSIM")}
    if source == "testA":  # photo -> labels
        palette = load_palette("facades")
        result["pixel_accuracy"] = segmentation_scores(palette, sum(confusion(palette, o, t) for o, t in zip(outputs, targets)))["pixel_accuracy"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = unpaired_folder(root, args.size)
        # facades: A = photo, B = labels. BtoA: labels -> photo.
        plan = [("cyclegan", "BtoA"), ("cut", "BtoA"), ("cut", "AtoB")]
        for seed in range(args.seeds):
            for method, direction in plan:
                run = root / f"{method}_{direction}_{seed}"
                print(f"{method} {direction} seed {seed} ...", file=sys.stderr, flush=True)
                row = {"method": method, "direction": direction, "seed": seed,
                       **train_run(data, run, method, direction, seed, args.budget, args.size)}
                row["labels_to_photo" if direction == "BtoA" else "photo_to_labels"] = score(run, data, direction)
                if method == "cyclegan":  # its second generator: photo -> labels from the same run
                    row["photo_to_labels"] = score(run, data, "AtoB")
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary: dict[str, Any] = {}
    for method in ("cyclegan", "cut"):
        for task in ("labels_to_photo", "photo_to_labels"):
            values = [r[task] for r in rows if r["method"] == method and task in r]
            if values:
                summary[f"{method} {task}"] = {k: (float(np.mean([v[k] for v in values])), float(np.std([v[k] for v in values])))
                                              for k in values[0]}
        speed = [r for r in rows if r["method"] == method]
        summary[f"{method} speed"] = {"img_per_s": float(np.mean([r["img_per_s"] for r in speed])),
                                      "peak_mb": float(np.mean([r["peak_mb"] for r in speed]))}
    print(f"unpaired facades, {args.size} px, {args.budget:g} s of training per run, {args.seeds} seeds (mean, sd)")
    for key, value in summary.items():
        print(f"  {key}: " + ", ".join(f"{k} {v[0]:.4f} +- {v[1]:.4f}" if isinstance(v, tuple) else f"{k} {v:.2f}"
                                       for k, v in value.items()))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
