"""Does the fast inference path change the pictures? bf16 (and compiled) outputs against fp32, on a test split.

    python benchmarks/precision_parity.py RUN DATA [--split test] [--limit N] [--json FILE]

Translates the split with fp32 eager (the reference), then with each faster
setting, and reports the mean and max pixel difference to fp32 (0-255 units)
and the change in the split's L1 and SSIM against the targets. ``inference.precision=auto``
picks bf16 where the CPU or GPU computes it natively; elsewhere bf16 is emulated
(slowly, with the same bf16 rounding), which still answers this question.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from pix2pix import Translator
    from pix2pix.data.photos import open_task_pairs
    from pix2pix.inference import load_model
    from pix2pix.metrics import image_metrics, mean_metrics

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("data")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    model = load_model(args.run)
    source = open_task_pairs(args.data, args.split, model.config.data)
    count = min(args.limit or len(source), len(source))
    pairs = [source.load(i) for i in range(count)]
    if model.config.data.direction == "BtoA":
        pairs = [(b, a) for a, b in pairs]
    settings = {"fp32 eager": {"precision": "fp32", "compile": False}, "bf16 eager": {"precision": "bf16", "compile": False}}
    outputs = {}
    for name, options in settings.items():
        print(f"{name} ...", file=sys.stderr, flush=True)
        outputs[name] = Translator(model, **options).translate_arrays([a for a, _ in pairs], batch_size=1)
    base = outputs["fp32 eager"]
    base_scores = mean_metrics([image_metrics(o, t) for o, (_, t) in zip(base, pairs)])
    rows = {}
    for name, outs in outputs.items():
        diffs = [np.abs(o.astype(int) - b.astype(int)) for o, b in zip(outs, base)]
        scores = mean_metrics([image_metrics(o, t) for o, (_, t) in zip(outs, pairs)])
        rows[name] = {"mean_abs_diff": float(np.mean([d.mean() for d in diffs])), "max_abs_diff": int(max(d.max() for d in diffs)),
                      "L1": scores["L1"], "SSIM": scores["SSIM"],
                      "L1_change_%": 100 * (scores["L1"] / base_scores["L1"] - 1),
                      "SSIM_change_%": 100 * (scores["SSIM"] / base_scores["SSIM"] - 1)}
    print(f"{count} images of {args.data} ({args.split}), model {args.run}")
    for name, row in rows.items():
        print(f"  {name:12} mean |diff| {row['mean_abs_diff']:.3f}  max {row['max_abs_diff']:3d}  L1 {row['L1']:.4f} "
              f"({row['L1_change_%']:+.2f}%)  SSIM {row['SSIM']:.4f} ({row['SSIM_change_%']:+.2f}%)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
