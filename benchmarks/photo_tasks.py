"""Photo tasks on real photos, against their baselines, run as a user runs them.

    python benchmarks/photo_tasks.py --data ../shared/data/facades --minutes 10 --seeds 0 1

For each task: ``pix2pix train PHOTOS --task T`` on the train split's photos
(``data.photo_side=A``: the facade photos of the aligned set) for a fixed
training-loop time, then ``pix2pix test`` on the test split; our scores and the
task's baselines come from metrics.json. Prints a table with each task's
acceptance check (issue 15), writes a JSON of every figure and a grid of
input | output | target for the first test photos of every task.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import cpu_model  # noqa: E402

TASKS = ("superres", "denoise", "inpainting", "colorization", "edges")


def check(task: str, ours: dict[str, float], base: dict[str, dict[str, float]]) -> tuple[str, bool]:
    """The acceptance criterion of one task: (what was compared, passed)."""
    if task == "superres":
        gain = ours["PSNR"] - base["bicubic"]["PSNR"]
        return f"PSNR {ours['PSNR']:.2f} vs bicubic {base['bicubic']['PSNR']:.2f} ({gain:+.2f} dB, need >= +1.0)", gain >= 1.0
    if task == "denoise":
        nlm = base["non-local means"]["PSNR"]
        return f"PSNR {ours['PSNR']:.2f} vs non-local means {nlm:.2f}", ours["PSNR"] > nlm
    if task == "inpainting":
        bh = base["biharmonic"]["L1_hole"]
        return f"in-hole L1 {ours['L1_hole']:.4f} vs biharmonic {bh:.4f}", ours["L1_hole"] < bh
    if task == "colorization":
        grey = base["grey input"]["ab_L1"]
        ratio = ours["colourfulness_ratio"]
        return (f"ab L1 {ours['ab_L1']:.2f} vs grey {grey:.2f}; colourfulness ratio {ratio:.2f} (need 0.7-1.3)",
                ours["ab_L1"] < grey and abs(ratio - 1) <= 0.3)
    mean = base["mean training colour"]
    return (f"L1 {ours['L1']:.4f} vs mean colour {mean['L1']:.4f}; SSIM {ours['SSIM']:.3f} vs {mean['SSIM']:.3f}",
            ours["L1"] < mean["L1"] and ours["SSIM"] > mean["SSIM"])


def pix2pix(*args: object, log: Path) -> None:
    command = [sys.executable, "-m", "pix2pix", *map(str, args)]
    with log.open("a") as fh:
        fh.write("$ " + " ".join(command[2:]) + "\n")
        fh.flush()
        code = subprocess.call(command, stdout=fh, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"error: {' '.join(command[2:4])} failed (exit {code}); see {log}")


def run_task(task: str, seed: int, args: argparse.Namespace) -> dict[str, object]:
    run = args.work / f"{task}-s{seed}"
    log = args.work / f"{task}-s{seed}.log"
    sets = [f"data.photo_side={args.photo_side}", f"data.crop_size={args.size}",
            f"data.load_size={round(args.size * 286 / 256)}", f"train.max_minutes={args.minutes}",
            f"train.seed={seed}", *args.set]
    if not (run / "checkpoints" / "latest.pt").exists():
        started = time.time()
        pix2pix("train", args.data, "--task", task, "--out", run, "--no-progress",
                *[a for s in sets for a in ("--set", s)], log=log)
        print(f"  {task} seed {seed}: trained in {time.time() - started:.0f} s", flush=True)
    pix2pix("test", run, args.data, "--split", "test", "--no-progress", log=log)
    metrics = json.loads((run / "results" / "test" / "metrics.json").read_text())
    result = {"step": metrics["step"], "ours": metrics["mean"], "baselines": metrics["baselines"]}
    if args.live:  # the trained weights beside their average (train.ema_decay): what the average changes
        pix2pix("test", run, args.data, "--split", "test", "--weights", "live", "--out", run / "results" / "test-live",
                "--no-progress", log=log)
        result["live"] = json.loads((run / "results" / "test-live" / "metrics.json").read_text())["mean"]
    return result


def grid(work: Path, seed: int, out: Path, rows: int = 3) -> None:
    """Per task: `rows` test photos as input | output | target, tasks stacked."""
    tiles = []
    for task in TASKS:
        images = work / f"{task}-s{seed}" / "results" / "test" / "images"
        keys = sorted({p.name.rsplit("_", 1)[0] for p in images.glob("*_output.png")})[:rows]
        for key in keys:
            row = [np.asarray(Image.open(images / f"{key}_{kind}.png").convert("RGB")) for kind in ("input", "output", "target")]
            height = min(r.shape[0] for r in row)
            tiles.append(np.concatenate([r[:height] for r in row], axis=1))
    if tiles:
        width = max(t.shape[1] for t in tiles)
        tiles = [np.pad(t, ((0, 4), (0, width - t.shape[1]), (0, 0)), constant_values=255) for t in tiles]
        Image.fromarray(np.concatenate(tiles, axis=0)).save(out)


def mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.4g} +- {np.std(values):.2g}" if len(values) > 1 else f"{values[0]:.4g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/facades"))
    parser.add_argument("--photo-side", default="A")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--minutes", type=float, default=10.0, help="training-loop minutes per run (train.max_minutes)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--set", action="append", default=[], help="an extra setting for every run")
    parser.add_argument("--work", type=Path, default=Path("photo-tasks"), help="run folders (kept: reruns only test)")
    parser.add_argument("--live", action="store_true",
                        help="also score each run's trained weights, not only their average (pix2pix test --weights live)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--grid", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: --data {args.data}: no such folder", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"photo tasks on {args.data} ({args.photo_side} halves), {args.size} px, {args.minutes:g} min each, "
          f"seeds {args.seeds}; CPU: {cpu_model()} ({os.cpu_count()} cores)", flush=True)
    results: dict[str, list[dict[str, object]]] = {}
    for task in args.tasks:
        results[task] = [run_task(task, seed, args) for seed in args.seeds]
    print(f"\n{'task':<13} {'steps':>7}  acceptance check (mean of {len(args.seeds)} seed(s) on the test photos)")
    summary = {}
    for task, runs in results.items():
        ours = {k: float(np.mean([r["ours"][k] for r in runs])) for k in runs[0]["ours"]}
        base = {name: {k: float(np.mean([r["baselines"][name][k] for r in runs])) for k in scores}
                for name, scores in runs[0]["baselines"].items()}
        text, passed = check(task, ours, base)
        steps = int(np.mean([r["step"] for r in runs]))
        print(f"{task:<13} {steps:>7}  {'PASS' if passed else 'FAIL'}  {text}")
        spread = {k: mean_sd([r["ours"][k] for r in runs]) for k in runs[0]["ours"]}
        print(f"{'':<22}ours: " + ", ".join(f"{k} {v}" for k, v in spread.items()))
        summary[task] = {"passed": passed, "check": text, "steps": steps, "ours": ours, "baselines": base, "runs": runs}
        if all("live" in r for r in runs):
            live = {k: float(np.mean([r["live"][k] for r in runs])) for k in runs[0]["live"]}
            live_text, live_passed = check(task, live, base)
            print(f"{'':<15}live  {'PASS' if live_passed else 'FAIL'}  {live_text}")
            print(f"{'':<22}live: " + ", ".join(f"{k} {mean_sd([r['live'][k] for r in runs])}" for k in runs[0]["live"]))
            summary[task].update(live=live, live_check=live_text, live_passed=live_passed)
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_model(), "minutes": args.minutes, "seeds": args.seeds,
                                         "size": args.size, "tasks": summary}, indent=2) + "\n")
    if args.grid:
        grid(args.work, args.seeds[0], args.grid)
        print(f"grid: {args.grid}")
    return 0 if all(s["passed"] for s in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
