"""The frozen reference of the quality benchmark: the pix2pix paper's recipe, as the research code runs it.

unet + 70x70 PatchGAN (``research_nets``: transposed convolutions, batch norm,
dropout 0.5, normal(0, 0.02) init), vanilla GAN loss (BCE with logits) + 100 * L1,
D's loss halved, Adam 2e-4 with betas (0.5, 0.999) for both, batch 1, fp32,
NCHW, eager; per-sample PIL jitter (resize to 286/256 of the crop, random crop,
random flip) in a DataLoader; test in train mode (batch statistics, dropout on),
one image at a time. Every number is written here: nothing reads the project's
defaults, so changing them can never change the reference (a test pins these).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
import numpy as np
import torch
from torch import nn

from reference import AlignedJPEGDataset
from research_nets import NLayerDiscriminator, UnetGenerator, init_normal

RECIPE = {
    "generator": "unet (research UnetGenerator, transposed convolutions)",
    "norm": "batch",
    "dropout": 0.5,
    "discriminator": "70x70 PatchGAN (NLayerDiscriminator, n_layers=3)",
    "gan_loss": "vanilla (BCE with logits)",
    "lambda_l1": 100.0,
    "lr": 2e-4,
    "betas": (0.5, 0.999),
    "batch_size": 1,
    "precision": "fp32",
    "init_gain": 0.02,
    "load_to_crop": 286 / 256,
    "flip": True,
    "test_mode": "train (batch statistics, dropout on)",
}


def unet_depth(size: int) -> int:
    """The research code's choice: unet_128 (7 downsamplings) for 128 px, unet_256 (8) for 256 px."""
    return max(5, int(round(np.log2(size))))


class PaperRecipe:
    """G, D, their Adams and one training step, as the research code's pix2pix model does it."""

    def __init__(self, size: int, in_channels: int = 3, out_channels: int = 3, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.G = init_normal(UnetGenerator(in_channels, out_channels, unet_depth(size), ngf=64, norm_layer=nn.BatchNorm2d,
                                           use_dropout=True), RECIPE["init_gain"])
        self.D = init_normal(NLayerDiscriminator(in_channels + out_channels, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d),
                             RECIPE["init_gain"])
        self.G.train()
        self.D.train()
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=RECIPE["lr"], betas=RECIPE["betas"])
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=RECIPE["lr"], betas=RECIPE["betas"])
        self.bce, self.l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()

    def gan_loss(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.tensor(1.0 if real else 0.0).expand_as(prediction)
        return self.bce(prediction, target)

    def step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> None:
        fake_b = self.G(real_a)
        for p in self.D.parameters():
            p.requires_grad = True
        self.opt_D.zero_grad()
        loss_d = 0.5 * (self.gan_loss(self.D(torch.cat((real_a, fake_b), 1).detach()), False)
                        + self.gan_loss(self.D(torch.cat((real_a, real_b), 1)), True))
        loss_d.backward()
        self.opt_D.step()
        for p in self.D.parameters():
            p.requires_grad = False
        self.opt_G.zero_grad()
        loss_g = self.gan_loss(self.D(torch.cat((real_a, fake_b), 1)), True) + self.l1(fake_b, real_b) * RECIPE["lambda_l1"]
        loss_g.backward()
        self.opt_G.step()

    def translate(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> uint8, as the research test script runs it (train mode, batch 1, fp32)."""
        self.G.train()
        with torch.no_grad():
            x = torch.from_numpy(image).permute(2, 0, 1).float().unsqueeze(0) / 127.5 - 1.0
            y = self.G(x)
        return ((y[0].permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def train_for(files: list[Path], size: int, direction: str, seconds: float, seed: int,
              workers: int) -> tuple[PaperRecipe, int, float]:
    """Train the recipe for ``seconds`` of loop time from its first step, data loading included
    (the research loop neither validates nor checkpoints on the way). Returns (recipe, steps, start-up s).
    The DataLoader seeds Python's and torch's RNGs in each worker from ``seed``."""
    started = time.perf_counter()
    random.seed(seed)
    np.random.seed(seed)
    recipe = PaperRecipe(size, seed=seed)
    load = round(size * RECIPE["load_to_crop"])
    dataset = AlignedJPEGDataset(files, load, size)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=RECIPE["batch_size"], shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0, generator=generator)
    startup = time.perf_counter() - started
    steps, loop_start = 0, time.perf_counter()
    while True:
        for batch in loader:
            a, b = (batch["A"], batch["B"]) if direction == "AtoB" else (batch["B"], batch["A"])
            recipe.step(a, b)
            steps += 1
            if time.perf_counter() - loop_start >= seconds:
                return recipe, steps, startup
