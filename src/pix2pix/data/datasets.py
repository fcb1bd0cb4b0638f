"""Torch datasets over pair sources, and the sampler that makes resume exact.

The sampler yields ``epoch * len(source) + i``: every sample knows its epoch, so
its random crop/flip is drawn from a generator seeded by (seed, epoch, i). Data
order and augmentation then depend on nothing but the seed and the position in
the run, whatever the number of worker processes, and a resumed run sees
exactly the batches an uninterrupted one would have seen.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import DataError
from .sources import PairSource
from .tensors import to_chw_uint8
from .transforms import PairTransform


class PairDataset(Dataset):
    """Items: {"input": (C, H, W) uint8, "target": (C, H, W) uint8, "index": int}."""

    def __init__(self, source: PairSource, transform: PairTransform, direction: str, seed: int) -> None:
        self.source, self.transform, self.seed = source, transform, seed
        self.swap = direction == "BtoA"

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, item: int) -> dict[str, object]:
        epoch, index = divmod(int(item), len(self.source))
        a, b = self.source.load(index)
        rng = np.random.default_rng([self.seed, epoch, index])
        a, b = self.transform(a, b, rng)
        if self.swap:
            a, b = b, a
        return {"input": to_chw_uint8(a), "target": to_chw_uint8(b), "index": index}


class EpochBatchSampler(Sampler[list[int]]):
    """Endless batches, shuffled per epoch from (seed, epoch), sharded across ranks.

    Each batch lies inside one epoch (the last one of an epoch may be short), and
    iteration can start at any (epoch, batch) position.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        *,
        shuffle: bool = True,
        start_epoch: int = 0,
        start_batch: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if size < 1:
            raise DataError("no training pairs to sample from")
        self.size, self.batch_size, self.seed, self.shuffle = size, batch_size, seed, shuffle
        self.start_epoch, self.start_batch = start_epoch, start_batch
        self.rank, self.world_size = rank, world_size

    @property
    def per_rank(self) -> int:
        return math.ceil(self.size / self.world_size)

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.per_rank / self.batch_size)

    def epoch_order(self, epoch: int) -> list[int]:
        """This rank's sample indices for one epoch (padded so every rank has as many)."""
        order = np.random.default_rng([self.seed, epoch]).permutation(self.size) if self.shuffle else np.arange(self.size)
        total = self.per_rank * self.world_size
        order = np.resize(order, total)  # repeats from the start, as DistributedSampler pads
        return order[self.rank :: self.world_size].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        epoch, skip = self.start_epoch, self.start_batch
        while True:
            order = self.epoch_order(epoch)
            base = epoch * self.size
            for start in range(skip * self.batch_size, len(order), self.batch_size):
                yield [base + i for i in order[start : start + self.batch_size]]
            epoch, skip = epoch + 1, 0

    def __len__(self) -> int:  # endless; len is per epoch, for progress estimates
        return self.batches_per_epoch


def collate_pairs(items: list[dict[str, object]]) -> dict[str, torch.Tensor]:
    """Stack items, with a clear error when images of one batch differ in size."""
    batch: dict[str, torch.Tensor] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if isinstance(values[0], torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise DataError(
                    f"images of one batch differ in size ({sorted(shapes)[:2]}); use a cropping "
                    "data.preprocess or train.batch_size=1"
                )
            batch[key] = torch.stack(values)
        else:
            batch[key] = torch.tensor(values)
    return batch
