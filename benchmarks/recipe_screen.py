"""Screen recipe candidates for realism on the validation list (issue #33), resumably.

    python benchmarks/recipe_screen.py                        # every candidate below, 300 s, seed 0, labels -> photo
    python benchmarks/recipe_screen.py --only ema0,l1_25      # some of them
    python benchmarks/recipe_screen.py --table                # train nothing: the table of what is there

Each candidate is ``pix2pix bench --quality`` with its ``--set`` overrides, its runs kept in
``--out``/NAME (one record per run, written the moment it ends: the same command again skips
finished runs), the reference shared by all of them in ``--out``/reference. The table is the
validation list's scores (``benchmarks/facades_val.txt``, held out from training and from the
FCN judge), where options are chosen; the test split stays for the final tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import quality  # noqa: E402

CANDIDATES: dict[str, list[str]] = {
    "defaults": [],
    "ema0": ["train.ema_decay=0"],
    "vanilla": ["loss.gan_mode=vanilla"],
    "l1_25": ["loss.lambda_l1=25"],
    "bilinear": ["model.upsample=bilinear"],
    "msd_fm": ["model.num_d=2", "loss.lambda_fm=10"],
    # (these two ran before the keys moved to [pix2pix]: the old names, as recorded, still read)
    "l1_decay10": ["loss.lambda_l1_final=10", "loss.lambda_l1_decay_steps=1000"],
    "input_skip": ["model.input_skip=16"],
    "input_skip_bilinear": ["model.input_skip=16", "model.upsample=bilinear"],
    "lr_5e-4": ["train.lr_g=5e-4", "train.lr_d=5e-4"],
    "lr_d_8e-4": ["train.lr_d=8e-4"],
    "skip_bilinear_decay": ["model.input_skip=16", "model.upsample=bilinear", "loss.lambda_l1_final=10",
                            "loss.lambda_l1_decay_steps=1000"],
    # small-data remedies for D (400 training pairs): DiffAugment, adaptive (ADA); a deeper PatchGAN
    "diffaug": ["train.d_augment=translation,cutout"],
    "ada": ["train.d_augment=color,translation,cutout", "train.d_augment_adaptive=true", "train.d_augment_p=0"],
    "d_layers4": ["model.n_layers_d=4"],
    # the paper's transposed convolutions in our recipe: does the upsampling decide the fine detail?
    "transposed": ["model.upsample=transposed"],
    # the other way round: the paper's recipe in our trainer, then one of our defaults' changes at a time
    # (which of them takes the reference's texture away?)
    "published": ["model.recipe=published"],
    "published_lsgan": ["model.recipe=published", "loss.gan_mode=lsgan"],
    "published_ema": ["model.recipe=published", "train.ema_decay=0.999"],
    "published_pixel_shuffle": ["model.recipe=published", "model.upsample=pixel_shuffle_outer"],
}
COLUMNS = ("L1", "fcn_pixel_accuracy", "fcn_mean_IoU", "detail_2px", "detail_4px", "detail_8px", "detail_16px",
           "grid_2px", "grid_4px", "grid_8px", "grid_16px", "grid_32px")
SHORT = {"fcn_pixel_accuracy": "fcn_pix", "fcn_mean_IoU": "fcn_IoU"}


def records(folder: Path, side: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"*_{side}_seed*.json"))]


def table(out: Path, names: list[str]) -> list[dict]:
    """One row per candidate (and the reference): mean over its finished seeds of the validation scores."""
    rows = []
    for name, folder, side in [("reference", out / "reference", "ref")] + [(n, out / n, "ours") for n in names]:
        found = [r for r in records(folder, side) if r["result"].get("val_scores")]
        if not found:
            continue
        row = {"name": name, "seeds": len(found), "steps": float(np.mean([r["result"]["steps"] for r in found])),
               "sets": found[0]["identity"].get("overrides", [])}
        for column in COLUMNS:
            values = [r["result"]["val_scores"][column] for r in found if column in r["result"]["val_scores"]]
            row[column] = (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0) if values else None
        rows.append(row)
    head = f"{'candidate':<14}{'seeds':>6}{'steps':>7}" + "".join(f"{SHORT.get(c, c):>12}" for c in COLUMNS)
    print(head)
    for row in rows:
        print(f"{row['name']:<14}{row['seeds']:>6}{row['steps']:>7.0f}"
              + "".join(f"{row[c][0]:>12.4f}" if row[c] else f"{'-':>12}" for c in COLUMNS))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality_runs" / "screen_BtoA_300s_xeon")
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--direction", default="BtoA", choices=["AtoB", "BtoA"])
    parser.add_argument("--only", default="", help="comma-separated candidate names (default: all)")
    parser.add_argument("--table", action="store_true", help="train nothing; print the table of finished runs")
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        print(f"error: --only: unknown candidate {unknown[0]} (known: {', '.join(CANDIDATES)})", file=sys.stderr)
        return 2
    if not args.table:
        for name in names:
            print(f"== {name}: {' '.join(CANDIDATES[name]) or '(defaults)'}", file=sys.stderr, flush=True)
            argv_q = ["--direction", args.direction, "--seeds", str(args.seeds), "--budget", str(args.budget),
                      "--out", str(args.out / name), "--reference-cache", str(args.out / "reference"),
                      "--grid", str(args.out / f"{name}.jpg"), "--json", str(args.out / f"{name}.table.json")]
            for item in CANDIDATES[name]:
                argv_q += ["--set", item]
            code = quality.main(argv_q)
            if code:
                return code
    rows = table(args.out, names)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
