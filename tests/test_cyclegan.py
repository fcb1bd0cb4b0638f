"""CycleGAN: the pool, the loss terms, unpaired data, and the run end to end with exact resume."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pix2pix.config import DataConfig, load_config
from pix2pix.data.transforms import PairTransform
from pix2pix.data.unpaired import UnpairedDataset, open_unpaired
from pix2pix.errors import ConfigError
from pix2pix.methods import build_method
from pix2pix.methods.image_pool import ImagePool
from pix2pix.runs import checkpoints as ckpt
from pix2pix.training.precision import Precision
from pix2pix.api import train

from conftest import make_folder_dataset, save, tiny_overrides


def cycle_cfg(*extra: str):
    return load_config(None, tiny_overrides(model__ngf=4, model__ndf=4) + ["model.method=cyclegan", *extra])


def test_pool_fills_then_swaps_half_the_time():
    pool = ImagePool(10, seed=0)
    for i in range(10):
        out = pool.query(torch.full((1, 1, 2, 2), float(i)))
        assert out[0, 0, 0, 0].item() == i  # returned as is while filling
    from_history = 0
    for i in range(10, 2010):
        out = pool.query(torch.full((1, 1, 2, 2), float(i)))
        from_history += int(out[0, 0, 0, 0].item() != i)
    assert 0.45 < from_history / 2000 < 0.55
    assert len(pool.images) == 10


def test_pool_state_round_trip_continues_identically():
    pool = ImagePool(3, seed=1)
    for i in range(5):
        pool.query(torch.full((2, 1, 1, 1), float(i)))
    clone = ImagePool(3, seed=99)
    clone.load_state_dict(copy.deepcopy(pool.state_dict()), torch.device("cpu"))
    for i in range(5, 20):
        x = torch.full((2, 1, 1, 1), float(i))
        assert torch.equal(pool.query(x), clone.query(x))


def test_pool_size_zero_is_a_pass_through():
    x = torch.randn(3, 1, 2, 2)
    assert torch.equal(ImagePool(0).query(x), x)


def test_step_losses_follow_the_paper():
    cfg = cycle_cfg("cyclegan.lambda_a=10", "cyclegan.lambda_b=5", "cyclegan.lambda_identity=0.5", "cyclegan.pool_size=0")
    torch.manual_seed(0)
    method = build_method(cfg, (3, 3), torch.device("cpu"))
    assert method.pools["A"].size == method.pools["B"].size == 0  # [cyclegan] pool_size reaches both pools
    before = {k: copy.deepcopy(v) for k, v in method.networks().items()}
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    batch = {"A": ((a + 1) * 127.5).round().to(torch.uint8), "B": ((b + 1) * 127.5).round().to(torch.uint8)}
    a, b = batch["A"].float() / 127.5 - 1, batch["B"].float() / 127.5 - 1
    with torch.no_grad():
        for net in before.values():
            net.train()
        G_A, G_B, D_A, D_B = (before[k] for k in ("G_A", "G_B", "D_A", "D_B"))
        fake_b, fake_a = G_A(a), G_B(b)
        expected_cycle_a = 10 * (G_B(fake_b) - a).abs().mean()
        expected_cycle_b = 5 * (G_A(fake_a) - b).abs().mean()
        expected_g_a = ((D_A(fake_b) - 1) ** 2).mean()  # lsgan: G wants D(fake) = 1
        expected_idt_a = 5 * 0.5 * (G_A(b) - b).abs().mean()
        expected_d_a = 0.5 * (((D_A(b) - 1) ** 2).mean() + (D_A(fake_b) ** 2).mean())  # D before its update
    losses = method.train_step(batch, Precision("fp32", torch.device("cpu")))
    assert losses["loss_cycle_A"].item() == pytest.approx(expected_cycle_a.item(), rel=1e-4)
    assert losses["loss_cycle_B"].item() == pytest.approx(expected_cycle_b.item(), rel=1e-4)
    assert losses["loss_G_A"].item() == pytest.approx(expected_g_a.item(), rel=1e-4)
    assert losses["loss_idt_A"].item() == pytest.approx(expected_idt_a.item(), rel=1e-4)
    assert losses["loss_D_A"].item() == pytest.approx(expected_d_a.item(), rel=1e-4)
    total = sum(losses[k] for k in ("loss_G_A", "loss_G_B", "loss_cycle_A", "loss_cycle_B", "loss_idt_A", "loss_idt_B"))
    assert losses["loss_G"].item() == pytest.approx(total.item(), rel=1e-5)


def test_identity_needs_equal_channels():
    with pytest.raises(ConfigError, match="lambda_identity.*same channel count"):
        build_method(cycle_cfg(), (1, 3), torch.device("cpu"))
    build_method(cycle_cfg("cyclegan.lambda_identity=0"), (1, 3), torch.device("cpu"))


def test_unpaired_sides_can_differ_in_count(tmp_path: Path):
    root = make_folder_dataset(tmp_path / "d", {"train": 5})
    for i in range(5, 8):
        save(np.full((40, 40, 3), i, np.uint8), root / "trainA" / f"extra{i}.png")
    a, b = open_unpaired(root, "train", DataConfig())
    assert (len(a), len(b)) == (8, 5)
    t = PairTransform("crop", 32, 32, False)
    data = UnpairedDataset(a, b, t, seed=0)
    assert len(data) == 8
    item = data[3]
    assert item["A"].shape == (3, 32, 32) and item["B"].shape == (3, 32, 32)
    draws = {int(data[8 * 1 + i]["B"].float().sum()) for i in range(8)}
    assert len(draws) > 1  # B drawn independently of A
    again = UnpairedDataset(a, b, t, seed=0)
    assert torch.equal(data[5]["B"], again[5]["B"])  # but deterministically
    serial = UnpairedDataset(a, b, PairTransform("none", 40, 40, False), seed=0, serial=True)
    assert torch.equal(serial[6]["B"], serial[1]["B"])  # 6 % 5 == 1


def test_demo_sides_are_unpaired():
    a, b = open_unpaired("demo:shapes", "train", DataConfig(demo_size=32))
    from pix2pix.data.demo import make_pair

    assert np.array_equal(a.load(2), make_pair("train", 2, 32)[0])
    assert not np.array_equal(b.load(2), make_pair("train", 2, 32)[1])


@pytest.mark.slow
def test_facades_unpaired_end_to_end_with_exact_resume(facades: Path, tmp_path: Path, cli):
    extra = ["data.load_size=72", "data.crop_size=64", "cyclegan.pool_size=2", "train.val_every=3", "train.sample_every=3"]
    train(cycle_cfg(*extra, "train.max_steps=6"), facades, tmp_path / "straight", progress=False)
    train(cycle_cfg(*extra, "train.max_steps=3"), facades, tmp_path / "split", progress=False)
    r = cli("train", "--resume", tmp_path / "split", "--set", "train.max_steps=6", "--no-progress")
    assert r.code == 0, r.err
    a = ckpt.load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = ckpt.load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    for name in ("G_A", "G_B", "D_A", "D_B"):
        for key, value in a["networks"][name].items():
            assert torch.equal(value, b["networks"][name][key]), f"{name}.{key}"
    for side in ("A", "B"):
        assert torch.equal(a["extra"]["pools"][side]["images"], b["extra"]["pools"][side]["images"])

    run = tmp_path / "split"
    r = cli("test", run, facades, "--no-progress")
    assert r.code == 0, r.err
    metrics = json.loads((run / "results" / "test" / "metrics.json").read_text())
    assert set(metrics["directions"]) == {"AtoB", "BtoA"}
    assert metrics["directions"]["AtoB"]["count"] == 11 and "cycle_L1" in metrics["directions"]["BtoA"]["mean"]
    assert "L1" in metrics["directions"]["AtoB"]["mean"]  # facades happen to be paired
    page = (run / "results" / "test" / "index.html").read_text()
    for column in ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"):
        assert f"_{column}.png" in page
    r = cli("translate", run, facades / "testB" / "3.jpg", "--direction", "BtoA", "--out", tmp_path / "o")
    assert r.code == 0 and (tmp_path / "o" / "3.png").exists()
    r = cli("check-data", facades, "--set", "model.method=cyclegan")
    assert r.code == 0 and "side A (trainA): 11 images" in r.out


def test_grey_to_colour_cyclegan_without_identity(tmp_path: Path):
    root = tmp_path / "d"
    for i in range(3):
        save(np.full((40, 40, 1), 30 * i, np.uint8), root / "trainA" / f"{i}.png")
    for i in range(4):
        save(np.full((40, 40, 3), 20 * i, np.uint8), root / "trainB" / f"{i}.png")
    result = train(cycle_cfg("cyclegan.lambda_identity=0", "train.max_steps=2"), root, tmp_path / "r", progress=False)
    assert result.step == 2
    state = ckpt.load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    assert state["channels"] == [1, 3]
