"""The CycleGAN image pool (Shrivastava et al., 2017): D sees a history of generated images.

Until the pool is full every generated image is stored and returned. After
that, each image is returned as is with probability 0.5, otherwise it replaces a
random stored image, which is returned in its place. The pool's RNG and contents
are part of its state, so a resumed run draws exactly as an uninterrupted one.
"""

from __future__ import annotations

import random
from typing import Any

import torch


class ImagePool:
    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Images to show D for this batch (same shape as ``images``)."""
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() > 0.5:
                index = self.rng.randrange(self.size)
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, dim=0)

    def state_dict(self) -> dict[str, Any]:
        stored = torch.cat(self.images).cpu() if self.images else torch.empty(0)
        return {"images": stored, "rng": self.rng.getstate()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        stored = state["images"]
        self.images = [img.unsqueeze(0).to(device) for img in stored] if stored.numel() else []
        self.rng.setstate(_tuples(state["rng"]))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
