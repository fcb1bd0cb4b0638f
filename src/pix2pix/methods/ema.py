"""An exponential moving average of a generator's weights (``train.ema_decay``).

GAN generators oscillate around a good solution; averaging their weights over
the last ~1/(1 - decay) steps gives smoother, more faithful outputs (Yazici et
al., 2019; Karras et al., 2018). The average is a second copy of the network,
updated after every G step, never trained, checkpointed as ``<name>_ema``, and
used for validation, the best checkpoint, test, translate, export and serve.

Batch-norm statistics are averaged with the weights (running mean and variance
are buffers, averaged like parameters): a network whose weights are an average
but whose statistics come from the live network normalises with statistics that
do not belong to it (measured: held-out L1 0.28 instead of 0.08 in eval mode).
Early on the decay ramps up as min(decay, (1 + t) / (10 + t)), so the average
is not dominated by the random initial weights in short runs.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """Keeps ``average`` = EMA of ``live``'s parameters and floating-point buffers."""

    def __init__(self, live: nn.Module, decay: float) -> None:
        self.decay = decay
        self.average = copy.deepcopy(live).requires_grad_(False)
        self.updates = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, live: nn.Module) -> None:
        weight = 1.0 - self.current_decay()
        for avg, cur in zip(_tensors(self.average), _tensors(live)):
            if avg.is_floating_point():
                avg.lerp_(cur.detach(), weight)
            else:
                avg.copy_(cur)  # counters (num_batches_tracked)
        self.updates += 1


def _tensors(net: nn.Module) -> list[torch.Tensor]:
    return [*net.parameters(), *net.buffers()]
