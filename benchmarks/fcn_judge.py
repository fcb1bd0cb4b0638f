"""The FCN-score judge of a data set: train it (once; cached) and measure it, as `bench --quality` uses it.

    python benchmarks/fcn_judge.py                     # facades: the judge of labels -> photo
    python benchmarks/fcn_judge.py --data DIR --palette palette.json --json out.json

Trains on the training files minus the validation list (what both sides of the quality benchmark train
on), at the benchmark's 128 px, with the fixed recipe; then reports, on the test split, the judge's
scores on the real photos (the ceiling), on the real photos blurred by sigma 2 px, and the majority-class
rate, with the training time and the CPU.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from quality import DEFAULT_DATA, cpu_name, fcn_judge, load_pairs, split_folder, validation_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="aligned A|B data, label maps on the B side")
    parser.add_argument("--palette", default="facades")
    parser.add_argument("--quick", action="store_true", help="the tiny recipe (plumbing only)")
    parser.add_argument("--segmenter-cache", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        split = split_folder(args.data, Path(tmp), validation_names(args.data))
        started = time.perf_counter()
        judge = fcn_judge(args.data, args.palette, split, 128, "BtoA", args.quick, args.segmenter_cache)
        seconds = time.perf_counter() - started
        test = load_pairs(split / "test", judge.recipe.size, "BtoA")
        reference = judge.reference_scores([photo for _, _, photo in test], [labels for _, labels, _ in test])
    figures = {"cpu": cpu_name(), "date": time.strftime("%Y-%m-%d"), "seconds_to_get_the_judge": round(seconds, 1),
               "segmenter": judge.info, **reference}
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
