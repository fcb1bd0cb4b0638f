"""The Python API: any input, any size, tiles, batches, modes."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix import Translator
from pix2pix.errors import ConfigError, ImageError
from pix2pix.inference import load_model
from pix2pix.models import size_multiple


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), np.uint8)
    for _ in range(12):
        y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
        base[y : y + rng.integers(8, 40), x : x + rng.integers(8, 40)] = rng.integers(0, 256, 3)
    return base


def test_inputs_of_every_kind(trained_run: Path, tmp_path: Path):
    t = Translator.from_checkpoint(trained_run)
    rgb = image(50, 70)
    Image.fromarray(rgb).save(tmp_path / "x.png")
    outputs = [t(rgb), t(Image.fromarray(rgb)), t(tmp_path / "x.png"), t(str(tmp_path / "x.png"))]
    assert all(isinstance(o, Image.Image) and o.size == (70, 50) for o in outputs)
    assert all(np.array_equal(np.asarray(outputs[0]), np.asarray(o)) for o in outputs[1:])
    grey = t(rgb[:, :, 0])  # (H, W) grey array: converted to the model's 3 input channels
    rgba = t(Image.fromarray(np.dstack([rgb, np.full((50, 70), 255, np.uint8)]), "RGBA"))
    assert grey.size == rgba.size == (70, 50)
    assert np.array_equal(np.asarray(rgba), np.asarray(outputs[0]))  # opaque alpha changes nothing
    floats = t(rgb.astype(np.float32) / 255)
    assert np.abs(np.asarray(floats, np.int16) - np.asarray(outputs[0], np.int16)).max() <= 1
    with pytest.raises(ImageError):
        t(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError):
        t(tmp_path / "missing.png")


def test_per_image_mode_batching_never_changes_an_image(trained_run: Path):
    t = Translator.from_checkpoint(trained_run, norm="per_image")
    images = [image(64, 64, seed) for seed in range(4)]
    together = t.batch(images)
    alone = [t(i) for i in images]
    for a, b in zip(together, alone):
        assert np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max() <= 1


def test_modes_and_seeds(trained_run: Path):
    x = image(64, 64)
    per_image = [np.asarray(Translator.from_checkpoint(trained_run, norm="per_image", seed=s)(x), np.int16) for s in (0, 0, 1)]
    assert np.array_equal(per_image[0], per_image[1]) and not np.array_equal(per_image[0], per_image[2])
    old_name = Translator.from_checkpoint(trained_run, norm="paper", seed=0)  # per_image's name before 0.2
    assert old_name.norm == "per_image" and np.array_equal(np.asarray(old_name(x), np.int16), per_image[0])
    evals = [np.asarray(Translator.from_checkpoint(trained_run, norm="eval", seed=s)(x)) for s in (0, 1)]
    assert np.array_equal(evals[0], evals[1])
    with pytest.raises(ConfigError):
        Translator.from_checkpoint(trained_run, norm="train")


@pytest.mark.parametrize("norm", ["per_image", "eval"])
def test_tiles_match_the_whole_image_without_seams(trained_run: Path, norm: str):
    x = image(192, 320, seed=3)  # fits in one piece, and in 128 px tiles
    whole = Translator.from_checkpoint(trained_run, norm=norm, scale="native", tile_size=0)
    tiled = Translator.from_checkpoint(trained_run, norm=norm, scale="native", tile_size=128)
    a = np.asarray(whole(x), np.float64) / 255
    b = np.asarray(tiled(x), np.float64) / 255
    diff = np.abs(a - b).mean(axis=2)
    assert diff.mean() <= 0.02
    m = size_multiple(load_model(trained_run).generators["AtoB"])
    # tiles of 128 with a 64 px overlap start every 64 px: borders at multiples of 64
    border_cols = [c for c in range(m, 320, m)]
    near = np.concatenate([diff[:, c - 2 : c + 2] for c in border_cols], axis=1)
    border_rows = [r for r in range(m, 192, m)]
    near_rows = np.concatenate([diff[r - 2 : r + 2, :] for r in border_rows], axis=0)
    elsewhere = diff.mean()
    assert near.mean() <= elsewhere * 1.5 + 1 / 255 and near_rows.mean() <= elsewhere * 1.5 + 1 / 255


def test_tiling_bounds_the_largest_forward(trained_run: Path):
    """With tiles, the network never sees more than one tile at a time."""
    t = Translator.from_checkpoint(trained_run, scale="native", tile_size=128)
    seen = []
    hook = t.net.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape[-2:])))
    try:
        out = t(image(256, 384))
    finally:
        hook.remove()
    assert out.size == (384, 256)
    assert max(h * w for h, w in seen) <= 128 * 128


def test_train_scale_resizes_and_restores(trained_run: Path):
    t = Translator.from_checkpoint(trained_run)  # trained with resize_and_crop 72 -> 64: runs at 64
    assert t.prepare(image(30, 100)).shape == (64, 64, 3)
    assert t(image(30, 100)).size == (100, 30)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # bf16 turns channels_last on: the weights are copied
def test_a_translator_leaves_the_callers_model_untouched(trained_run: Path, precision: str):
    model = load_model(trained_run)
    net = model.generators["AtoB"]
    before = {name: type(m) for name, m in net.named_modules()}
    weights = {name: (p.stride(), p.clone()) for name, p in net.named_parameters()}
    picture = image(64, 64)
    translated = np.asarray(Translator(model, device="cpu", precision=precision)(picture))
    assert {name: type(m) for name, m in net.named_modules()} == before  # no kernel class swapped in
    for name, p in net.named_parameters():
        stride, value = weights[name]
        assert p.stride() == stride and torch.equal(p, value), name  # same layout, same values
    assert translated.shape == (64, 64, 3)
