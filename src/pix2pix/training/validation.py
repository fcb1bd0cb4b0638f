"""Validation during training: a held-out score and the sample grids.

pix2pix: L1 between output and target on validation pairs. CycleGAN (no
targets in general): cycle-consistency L1, |G_B(G_A(a)) - a| and
|G_A(G_B(b)) - b| averaged; its samples show real | translated | reconstructed.
Both score on the 0-1 scale, at the test-time scale, in the configured
inference mode, and keep the best checkpoint by that score.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
from torch import nn

from ..config import Config
from ..data.io import write_image
from ..data.photos import viewable_input
from ..data.sources import PairSource
from ..data.transforms import eval_resize, eval_transform
from ..data.unpaired import ImageSource
from ..data.images import grid
from ..metrics import l1
from ..runtime.generate import generate_arrays
from ..runs.checkpoints import RunPaths


GeneratorFor = Callable[[str], nn.Module]  # direction -> a plain generator to run


class Validator(Protocol):
    measure: str  # what the score is, for the log, the progress bar and the report ("L1", "cycle L1")

    def run(self, generator_for: GeneratorFor, step: int, write_samples: bool) -> tuple[float | None, np.ndarray | None]:
        """(validation score, lower is better, or None without validation data; the sample grid written, if any)."""


class PairValidator:
    """Holds the first ``train.val_images`` validation pairs, prepared once at the test-time scale."""

    measure = "L1"

    def __init__(self, cfg: Config, source: PairSource | None, paths: RunPaths) -> None:
        self.cfg, self.paths = cfg, paths
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        if source is None:
            return
        for index in range(min(cfg.train.val_images, len(source))):
            a, b = eval_transform(*source.load(index), cfg.data)
            self.pairs.append((b, a) if cfg.data.direction == "BtoA" else (a, b))

    def run(self, generator_for: GeneratorFor, step: int, write_samples: bool) -> tuple[float | None, np.ndarray | None]:
        if not self.pairs:
            return None, None
        inference = self.cfg.inference
        net = generator_for("AtoB")
        outputs = generate_arrays(net, [inp for inp, _ in self.pairs], norm=inference.norm, seed=inference.seed)
        value = float(np.mean([l1(out, target) for out, (_, target) in zip(outputs, self.pairs)]))
        if not write_samples:
            return value, None
        count = min(self.cfg.train.sample_images, len(self.pairs))
        task = self.cfg.data.task
        image = grid([[viewable_input(task, self.pairs[i][0]), outputs[i], self.pairs[i][1]] for i in range(count)])
        write_image(image, self.paths.samples / f"step_{step:07d}.png")
        return value, image


class CycleValidator:
    """Cycle-consistency L1 on the first ``train.val_images`` A and B validation images."""

    measure = "cycle L1"

    def __init__(self, cfg: Config, a: ImageSource | None, b: ImageSource | None, paths: RunPaths) -> None:
        self.cfg, self.paths = cfg, paths
        count = cfg.train.val_images
        self.a = [eval_resize(a.load(i), cfg.data) for i in range(min(count, len(a)))] if a is not None else []
        self.b = [eval_resize(b.load(i), cfg.data) for i in range(min(count, len(b)))] if b is not None else []

    def cycle(self, generator_for: GeneratorFor, images: list[np.ndarray], forward: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(translated, reconstructed) for ``images`` going ``forward`` and back."""
        backward = "BtoA" if forward == "AtoB" else "AtoB"
        inference = self.cfg.inference
        fake = generate_arrays(generator_for(forward), images, norm=inference.norm, seed=inference.seed)
        rec = generate_arrays(generator_for(backward), fake, norm=inference.norm, seed=inference.seed)
        return fake, rec

    def run(self, generator_for: GeneratorFor, step: int, write_samples: bool) -> tuple[float | None, np.ndarray | None]:
        if not self.a or not self.b:
            return None, None
        fake_b, rec_a = self.cycle(generator_for, self.a, "AtoB")
        fake_a, rec_b = self.cycle(generator_for, self.b, "BtoA")
        value = float(np.mean([l1(r, x) for r, x in zip(rec_a, self.a)] + [l1(r, x) for r, x in zip(rec_b, self.b)]))
        if not write_samples:
            return value, None
        rows = []
        for i in range(min(self.cfg.train.sample_images, len(self.a), len(self.b))):
            rows.append([self.a[i], fake_b[i], rec_a[i]])
            rows.append([self.b[i], fake_a[i], rec_b[i]])
        image = grid(rows)
        write_image(image, self.paths.samples / f"step_{step:07d}.png")
        return value, image


class TranslationValidator:
    """One-way unpaired methods (no way back to reconstruct): L1 of G(a) against a same-named B image
    where the data happen to be paired (e.g. facades with the pairing ignored in training); no score
    otherwise (best.pt is then not written and inference uses the latest weights). Samples: real | translated."""

    measure = "L1 to same-named B"

    def __init__(self, cfg: Config, a: ImageSource | None, b: ImageSource | None, paths: RunPaths) -> None:
        from ..data.layout import pair_key

        self.cfg, self.paths = cfg, paths
        count = cfg.train.val_images
        self.a = [eval_resize(a.load(i), cfg.data) for i in range(min(count, len(a)))] if a is not None else []
        partners = {pair_key(b.key(i)): i for i in range(len(b))} if b is not None else {}
        self.targets: list[np.ndarray | None] = []
        for i in range(len(self.a)):
            j = partners.get(pair_key(a.key(i)))  # type: ignore[union-attr]
            self.targets.append(eval_resize(b.load(j), cfg.data) if j is not None else None)  # type: ignore[union-attr]

    def run(self, generator_for: GeneratorFor, step: int, write_samples: bool) -> tuple[float | None, np.ndarray | None]:
        if not self.a:
            return None, None
        inference = self.cfg.inference
        fake = generate_arrays(generator_for("AtoB"), self.a, norm=inference.norm, seed=inference.seed)
        scored = [l1(f, t) for f, t in zip(fake, self.targets) if t is not None and t.shape == f.shape]
        value = float(np.mean(scored)) if scored else None
        if not write_samples:
            return value, None
        rows = [[self.a[i], fake[i]] + ([self.targets[i]] if self.targets[i] is not None else [])
                for i in range(min(self.cfg.train.sample_images, len(self.a)))]
        image = grid(rows)
        write_image(image, self.paths.samples / f"step_{step:07d}.png")
        return value, image
