"""Label maps as outputs (photo -> labels): one class per pixel instead of a colour."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .colour import LOGIT_RANGE
from .generators import TaskComposite


class PaletteClasses(TaskComposite):
    """Image in [-1, 1] -> a label map in [-1, 1] each of whose pixels is one of ``colours`` ((K, 3) values 0-255);
    ``net`` predicts K class logits per pixel.

    An L1 loss on a label map's colours is minimised, where the class is uncertain (every boundary), by a
    blend of the neighbouring classes' colours: soft blobs in colours no class has. Here G predicts a
    distribution over the classes, trained with cross-entropy against each target pixel's nearest colour,
    and draws the most likely class's colour, as a label map has. D sees the expected colour (the
    probabilities times the colours): a pure class colour only where G is sure, so the adversarial term
    also asks for confident classes.
    """

    scores_itself = True

    def __init__(self, net: nn.Module, colours: np.ndarray) -> None:
        super().__init__(net)
        self.register_buffer("colours", torch.as_tensor(np.asarray(colours), dtype=torch.float32) / 127.5 - 1)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> Any:
        """The label map; with ``target`` (training) the soft one D sees and the cross-entropy."""
        logits = self.net(x).float() * LOGIT_RANGE
        with torch.autocast(x.device.type, enabled=False):  # the decoding and the loss in fp32
            if target is None:
                return self.colours[logits.argmax(1)].permute(0, 3, 1, 2).to(x.dtype)
            expected = torch.einsum("bkhw,kc->bchw", torch.softmax(logits, dim=1), self.colours)
            return expected.to(x.dtype), F.cross_entropy(logits, self.classes(target))

    def classes(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, H, W) the index of each pixel's nearest colour."""
        distances = ((image.float().unsqueeze(1) - self.colours.view(1, -1, 3, 1, 1)) ** 2).sum(2)
        return distances.argmin(1)
