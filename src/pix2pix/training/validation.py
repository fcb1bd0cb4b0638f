"""Validation during training: L1 on held-out pairs and the sample grids."""

from __future__ import annotations

import numpy as np
from torch import nn

from ..config import Config
from ..data.io import write_image
from ..data.sources import PairSource
from ..data.transforms import eval_transform
from ..evaluation.images import grid
from ..evaluation.metrics import l1
from ..inference import generate_arrays
from .checkpoint import RunPaths


class Validator:
    """Holds the first ``train.val_images`` validation pairs, prepared once at the test-time scale."""

    def __init__(self, cfg: Config, source: PairSource | None, paths: RunPaths) -> None:
        self.cfg, self.paths = cfg, paths
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        if source is None:
            return
        for index in range(min(cfg.train.val_images, len(source))):
            a, b = eval_transform(*source.load(index), cfg.data)
            self.pairs.append((b, a) if cfg.data.direction == "BtoA" else (a, b))

    def outputs(self, net: nn.Module) -> list[np.ndarray]:
        """Generator outputs for every validation input, in the configured inference mode."""
        inference = self.cfg.inference
        return generate_arrays(net, [inp for inp, _ in self.pairs], norm=inference.norm, seed=inference.seed)

    def run(self, net: nn.Module, step: int, write_samples: bool) -> float | None:
        """Mean L1 (0-1 scale) over the validation pairs; writes samples/step_N.png if asked."""
        if not self.pairs:
            return None
        outputs = self.outputs(net)
        value = float(np.mean([l1(out, target) for out, (_, target) in zip(outputs, self.pairs)]))
        if write_samples:
            count = min(self.cfg.train.sample_images, len(self.pairs))
            rows = [[self.pairs[i][0], outputs[i], self.pairs[i][1]] for i in range(count)]
            write_image(grid(rows), self.paths.samples / f"step_{step:07d}.png")
        return value
