"""Is the reference's fine detail texture, or its grid? Detail per octave with and without the grid lattices.

The detail measure (``pix2pix.evaluation.realism``) sums the power in each octave, lattice peaks included,
so a picture with a checkerboard gains "detail" at 2 and 4 px. This re-scores saved test outputs of
``pix2pix bench --quality`` (the ``.npz`` beside each record) twice: as the measure does, and with the 3x3
bins around every point of the period-2, 4 and 8 lattices (where the grids are) left out of outputs and
photos alike.

    python benchmarks/detail_without_lattice.py benchmarks/results/quality_runs/facades_BtoA_600s_xeon \
        benchmarks/results/quality_runs/reference_BtoA_600s_xeon
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import quality  # noqa: E402
from pix2pix.evaluation.realism import grid_points, power_spectrum, radial_frequency  # noqa: E402

PERIODS = (2, 4, 8, 16)  # the detail octaves
LATTICES = (2, 4, 8)  # the grid periods left out


def lattice_mask(size: int) -> np.ndarray:
    """True where a bin is kept: not within one bin of a point of the period-2, 4 or 8 lattice."""
    keep = np.ones((size, size), bool)
    for period in LATTICES:
        for y, x in grid_points(size, size, period):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    keep[(y + dy) % size, (x + dx) % size] = False
    return keep


def octave_power(images: list[np.ndarray], keep: np.ndarray | None) -> dict[int, float]:
    size = images[0].shape[0]
    r = radial_frequency(size, size)
    spectra = [power_spectrum(image) for image in images]
    power = {}
    for period in PERIODS:
        band = (r > 1 / (2 * period)) & (r <= 1 / period)
        if keep is not None:
            band &= keep
        power[period] = sum(float(s[band].sum()) for s in spectra)
    return power


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="quality_runs folders holding *_seedN.npz outputs")
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "facades")
    parser.add_argument("--direction", default="BtoA")
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    targets = [t for _, _, t in quality.load_pairs(args.data / "test", args.size, args.direction)]
    keep = lattice_mask(args.size)
    photos, photos_kept = octave_power(targets, None), octave_power(targets, keep)
    print(f"bins left out of each octave: " + ", ".join(
        f"{p} px {1 - photos_kept[p] / photos[p]:.0%} of the photos' power" for p in PERIODS))
    print("run | detail 2 / 4 / 8 / 16 px, as measured | without the lattice bins")
    for folder in args.folders:
        for path in sorted(folder.glob(f"*_{args.direction}_*_seed*.npz")):
            if path.name.endswith(".val.npz"):
                continue
            outputs = quality.load_outputs(path)
            full, kept = octave_power(outputs, None), octave_power(outputs, keep)
            print(f"{path.stem} | " + " / ".join(f"{full[p] / photos[p]:.2f}" for p in PERIODS) + " | "
                  + " / ".join(f"{kept[p] / photos_kept[p]:.2f}" for p in PERIODS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
