"""A faithful, minimal re-implementation of the common research training and test loops.

What the widely used research code does for pix2pix, reduced to its essentials,
so the benchmark can measure it beside ours in the same run:

- data: every sample decoded from JPEG with PIL, split A|B, resized (bicubic) to
  load_size, randomly cropped to crop_size and flipped, converted to a float
  tensor in [-1, 1], batch size 1, a standard DataLoader;
- step: G forward once; D on (A, G(A).detach()) and (A, B), loss halved, D
  step; D on (A, G(A)) for G's adversarial loss + lambda * L1, G step; least
  squares GAN loss against tensors of ones / zeros; two Adam optimizers with
  PyTorch's defaults; fp32, NCHW, eager;
- test: the generator in train mode (the research test script without --eval:
  batch statistics, dropout on), fp32, batch 1, one image at a time.

The networks are the project's own, built from torch's layers (same
architecture and parameter count as the research code, same initial weights as
our side of the benchmark); the CPU kernel choice our runtime applies to our
side (``pix2pix.runtime.cpu_kernels``) is not applied here.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn


class AlignedJPEGDataset(torch.utils.data.Dataset):
    def __init__(self, files: list[Path], load_size: int, crop_size: int) -> None:
        self.files, self.load_size, self.crop_size = files, load_size, crop_size

    def __len__(self) -> int:
        return len(self.files)

    def _to_tensor(self, img: Image.Image) -> torch.Tensor:
        array = np.asarray(img, dtype=np.float32) / 255.0
        return (torch.from_numpy(array).permute(2, 0, 1) - 0.5) / 0.5

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ab = Image.open(self.files[index]).convert("RGB")
        width, height = ab.size
        half = width // 2
        a, b = ab.crop((0, 0, half, height)), ab.crop((half, 0, width, height))
        x = random.randint(0, max(0, self.load_size - self.crop_size))
        y = random.randint(0, max(0, self.load_size - self.crop_size))
        flip = random.random() > 0.5
        out = []
        for img in (a, b):
            img = img.resize((self.load_size, self.load_size), Image.BICUBIC)
            img = img.crop((x, y, x + self.crop_size, y + self.crop_size))
            if flip:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
            out.append(self._to_tensor(img))
        return {"A": out[0], "B": out[1]}


def set_requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad = flag


class ReferenceLoop:
    """The research training step, verbatim in structure."""

    def __init__(self, G: nn.Module, D: nn.Module, lambda_l1: float = 100.0) -> None:
        self.G, self.D, self.lambda_l1 = G.train(), D.train(), lambda_l1
        self.opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.mse, self.l1 = nn.MSELoss(), nn.L1Loss()

    def gan_loss(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.tensor(1.0 if real else 0.0, device=prediction.device).expand_as(prediction)
        return self.mse(prediction, target)

    def step(self, batch: dict[str, torch.Tensor]) -> None:
        real_a, real_b = batch["A"], batch["B"]
        fake_b = self.G(real_a)
        set_requires_grad(self.D, True)
        self.opt_D.zero_grad()
        loss_d_fake = self.gan_loss(self.D(torch.cat((real_a, fake_b), 1).detach()), False)
        loss_d_real = self.gan_loss(self.D(torch.cat((real_a, real_b), 1)), True)
        ((loss_d_fake + loss_d_real) * 0.5).backward()
        self.opt_D.step()
        set_requires_grad(self.D, False)
        self.opt_G.zero_grad()
        loss_g = self.gan_loss(self.D(torch.cat((real_a, fake_b), 1)), True) + self.l1(fake_b, real_b) * self.lambda_l1
        loss_g.backward()
        self.opt_G.step()


def reference_translate(G: nn.Module, image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> uint8, as the research test script runs it (train mode, batch 1, fp32)."""
    G.train()
    device = next(G.parameters()).device
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1).float().unsqueeze(0).to(device) / 127.5 - 1.0
        y = G(x)
    return ((y[0].permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def make_loader(files: list[Path], load_size: int, crop_size: int, workers: int, seed: int) -> torch.utils.data.DataLoader:
    random.seed(seed)
    return torch.utils.data.DataLoader(AlignedJPEGDataset(files, load_size, crop_size), batch_size=1, shuffle=True,
                                       num_workers=workers, persistent_workers=workers > 0)

