import numpy as np
import pytest

from pix2pix.config import DataConfig
from pix2pix.data.datasets import EpochBatchSampler, collate_pairs
from pix2pix.data.transforms import PairTransform, eval_size, eval_transform
from pix2pix.errors import DataError
import torch


def coords(h, w):
    """An image whose pixels encode their own position, to see exactly what a crop kept."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([y % 256, x % 256, (y * w + x) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("preprocess", ["resize_and_crop", "crop", "scale_width", "none"])
def test_a_and_b_get_the_same_crop_and_flip(preprocess):
    t = PairTransform(preprocess, load_size=48, crop_size=32, flip=True)
    a = coords(40, 56)
    for seed in range(6):
        out_a, out_b = t(a, a.copy(), np.random.default_rng(seed))
        assert np.array_equal(out_a, out_b)
        if preprocess != "none":
            assert out_a.shape == (32, 32, 3)


def test_jitter_is_deterministic_per_seed_and_varies():
    t = PairTransform("crop", load_size=64, crop_size=16, flip=True)
    a = coords(64, 64)
    first = [t(a, a, np.random.default_rng([0, 0, i]))[0] for i in range(8)]
    again = [t(a, a, np.random.default_rng([0, 0, i]))[0] for i in range(8)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert len({x.tobytes() for x in first}) > 4
    flipped = [x for x in first if x[0, 0, 1] > x[0, -1, 1]]
    assert 0 < len(flipped) < 8


def test_crop_enlarges_images_smaller_than_the_crop():
    t = PairTransform("crop", load_size=32, crop_size=32, flip=False)
    out, _ = t(coords(20, 40), coords(20, 40), np.random.default_rng(0))
    assert out.shape == (32, 32, 3)


def test_eval_size_matches_training_scale():
    assert eval_size(300, 200, DataConfig(load_size=286, crop_size=256)) == (256, 256)
    assert eval_size(100, 200, DataConfig(preprocess="scale_width", load_size=64, crop_size=32)) == (32, 64)
    assert eval_size(100, 200, DataConfig(preprocess="crop", crop_size=32)) == (100, 200)
    a, b = eval_transform(coords(10, 10), coords(10, 10), DataConfig(load_size=20, crop_size=16))
    assert a.shape == b.shape == (16, 16, 3)


def test_sampler_orders_are_seeded_and_resumable():
    s = EpochBatchSampler(10, 3, seed=4)
    assert s.batches_per_epoch == 4
    it = iter(s)
    batches = [next(it) for _ in range(9)]
    # epoch 0 is indices 0..9 shuffled, encoded as epoch * 10 + i
    assert sorted(i for b in batches[:4] for i in b) == list(range(10))
    assert all(10 <= i < 20 for b in batches[4:8] for i in b)
    resumed = iter(EpochBatchSampler(10, 3, seed=4, start_epoch=1, start_batch=2))
    assert [next(resumed) for _ in range(3)] == batches[6:9]
    assert next(iter(EpochBatchSampler(10, 3, seed=5))) != batches[0]


def test_sampler_shards_across_ranks():
    ranks = [EpochBatchSampler(7, 2, seed=0, rank=r, world_size=2) for r in range(2)]
    orders = [r.epoch_order(0) for r in ranks]
    assert len(orders[0]) == len(orders[1]) == 4
    assert set(orders[0]) | set(orders[1]) == set(range(7))


def test_collate_refuses_mixed_sizes():
    items = [{"input": torch.zeros(3, 4, 4), "index": 0}, {"input": torch.zeros(3, 4, 5), "index": 1}]
    with pytest.raises(DataError, match="differ in size"):
        collate_pairs(items)
