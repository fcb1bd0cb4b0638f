"""Photo tasks: a folder of photos is the data; each task trains, validates, tests, translates, resumes
exactly and exports, and bad input gets one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix.api import resume, train
from pix2pix.config import load_config
from pix2pix.data import photos
from pix2pix.errors import ConfigError, DataError
from pix2pix.runs import checkpoints as ckpt

from conftest import IN_CI, tiny_overrides
from test_training import assert_same_state

TASKS = ["colorization", "inpainting", "superres", "denoise", "edges"]


def _photos(root: Path, count: int = 10, size: int = 40) -> Path:
    """A flat folder of smooth colourful 'photos' (gradients and blobs), as a user's camera folder."""
    root.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[:size, :size] / size
    for i in range(count):
        rng = np.random.default_rng(i)
        image = np.stack([x * rng.uniform(100, 255), y * rng.uniform(100, 255), (1 - x) * rng.uniform(50, 255)], axis=2)
        cy, cx = rng.integers(8, size - 8, 2)
        image[cy - 6 : cy + 6, cx - 6 : cx + 6] = rng.integers(0, 255, 3)
        Image.fromarray(image.astype(np.uint8)).save(root / f"IMG_{i:04d}.jpg", quality=95)
    return root


def _cfg(task: str, *extra: str):
    return load_config(None, tiny_overrides(model__ngf=4, model__ndf=4, train__val_every=2, train__sample_every=2) +
                       [f"data.task={task}", *extra])


@pytest.mark.parametrize("task, extra", [(t, ()) for t in TASKS] + [("colorization", (f"model.colorization_output={o}",))
                                                                     for o in ("rgb", "ab")],
                         ids=TASKS + ["colorization-rgb", "colorization-ab"])
def test_task_trains_resumes_exactly_tests_translates_and_exports(task: str, extra: tuple[str, ...], tmp_path: Path, cli):
    data = _photos(tmp_path / "photos")
    straight = train(_cfg(task, "train.max_steps=4", *extra), data, tmp_path / "straight", progress=False)
    train(_cfg(task, "train.max_steps=2", *extra), data, tmp_path / "run", progress=False)
    resumed = resume(tmp_path / "run", ["train.max_steps=4"], progress=False)
    assert straight.step == resumed.step == 4 and straight.best_val_l1 is not None
    assert_same_state(ckpt.load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt"),
                      ckpt.load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt"))
    r = cli("test", tmp_path / "run", data, "--split", "train", "--no-progress")
    assert r.code == 0, r.err
    assert "baseline" in r.out  # the task's baselines printed beside our scores
    import json

    metrics = json.loads((tmp_path / "run" / "results" / "train" / "metrics.json").read_text())
    assert metrics["task"] == task and metrics["baselines"]
    photo = data / "IMG_0000.jpg"
    args = ["translate", tmp_path / "run", photo, "--out", tmp_path / "out"]
    r = cli(*args, "--derive-input")
    assert r.code == 0, r.err
    out = np.asarray(Image.open(tmp_path / "out" / "IMG_0000.png"))
    assert out.shape == (40, 40, 3)
    r = cli("export", tmp_path / "run", "--format", "weights", "--out", tmp_path / "g.safetensors")
    assert r.code == 0, r.err


@pytest.mark.parametrize("task, expected", [("superres", {"lambda_gan": 0.0, "ngf": 32, "dropout": 0.0, "lr_g": 1e-3}),
                                            ("colorization", {"lambda_gan": 0.0, "colorization_output": "bins"})])
@pytest.mark.slow
def test_task_flag_applies_its_preset_and_set_wins(task: str, expected: dict, tmp_path: Path, cli):
    data = _photos(tmp_path / "photos")
    sets = [a for s in tiny_overrides(train__max_steps=1) if not s.startswith("model.ngf") for a in ("--set", s)]
    r = cli("train", data, "--out", tmp_path / "r", "--task", task, "--no-progress", *sets)
    assert r.code == 0, r.err
    cfg = load_config(tmp_path / "r" / "config.toml")
    values = {k: getattr(getattr(cfg, section), k) for section in ("loss", "model", "train") for k in expected
              if hasattr(getattr(cfg, section), k)}
    assert values == expected and cfg.data.task == task
    r = cli("train", data, "--out", tmp_path / "r2", "--task", task, "--no-progress", *sets, "--set", "loss.lambda_gan=0.5")
    assert r.code == 0, r.err
    assert load_config(tmp_path / "r2" / "config.toml").loss.lambda_gan == 0.5


def test_held_out_inputs_are_fixed_by_the_file_path(tmp_path: Path):
    data = _photos(tmp_path / "photos")
    cfg = _cfg("inpainting").data
    first = photos.HeldOutPairs(photos.open_photos(data, "train", cfg), cfg)
    second = photos.HeldOutPairs(photos.open_photos(data, "train", cfg), cfg)
    a, b = first.load(3), second.load(3)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(first.load(3)[0], first.load(4)[0][:, :, :4])
    hole = photos.mask_of(a[0]).mean()
    assert cfg.mask_min - 0.05 <= hole <= cfg.mask_max + 0.15  # coverage drawn in [10%, 25%] (strokes overshoot a little)


def test_translate_takes_what_a_user_has(tmp_path: Path, cli):
    data = _photos(tmp_path / "photos", size=40)
    sr = tmp_path / "sr"
    train(_cfg("superres", "train.max_steps=1", "data.scale_factor=2"), data, sr, progress=False)
    small = tmp_path / "small.png"
    Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(small)
    assert cli("translate", sr, small, "--out", tmp_path / "o1").code == 0
    assert Image.open(tmp_path / "o1" / "small.png").size == (24, 20)  # scale_factor times larger
    inp = tmp_path / "inp"
    train(_cfg("inpainting", "train.max_steps=1"), data, inp, progress=False)
    rgba = np.dstack([np.full((40, 40, 3), 200, np.uint8), np.full((40, 40), 255, np.uint8)])
    rgba[10:20, 10:20, 3] = 0  # transparent: the hole
    Image.fromarray(rgba).save(tmp_path / "holed.png")
    r = cli("translate", inp, tmp_path / "holed.png", "--out", tmp_path / "o2")
    assert r.code == 0, r.err
    out = np.asarray(Image.open(tmp_path / "o2" / "holed.png"))
    assert np.abs(out[25:, 25:].astype(int) - 200).max() <= 2  # known pixels pass through the composite
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(tmp_path / "mask.png")
    r = cli("translate", inp, data / "IMG_0001.jpg", "--out", tmp_path / "o3", "--mask", tmp_path / "mask.png")
    assert r.code == 1 and "the mask is 30x30 but the photo 40x40" in r.err
    r = cli("translate", inp, data / "IMG_0001.jpg", "--out", tmp_path / "o4")
    assert r.code == 2 and "inpainting needs the holes" in r.err and r.err.count("\n") == 1


def test_bad_task_input_is_a_one_line_error(tmp_path: Path, cli):
    data = _photos(tmp_path / "photos")
    r = cli("train", data, "--out", tmp_path / "r1", "--task", "paint")
    assert r.code == 2 and "invalid choice: 'paint'" in r.err
    with pytest.raises(ConfigError, match="data.task: 'paint' is not one of paired, colorization"):
        load_config(None, ["data.task=paint"])
    with pytest.raises(ConfigError, match="data.crop_size: 30 is not divisible by data.scale_factor=4"):
        load_config(None, ["data.task=superres", "data.crop_size=30", "data.load_size=34"])
    r = cli("train", data, "--out", tmp_path / "r2", *[a for s in tiny_overrides(train__max_steps=1) for a in ("--set", s)])
    assert r.code == 2 and "a flat folder of single images, no A|B pairs" in r.err and "--task colorization" in r.err
    with pytest.raises(DataError, match="not divisible by data.scale_factor=4"):
        photos.downscale(np.zeros((30, 30, 3), np.uint8), 4)


def test_check_data_reports_photos_and_warns_about_ab_files(tmp_path: Path, cli, capsys):
    data = _photos(tmp_path / "photos")
    (data / "notes.txt").write_text("not a photo")
    (data / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    r = cli("check-data", data, "--task", "colorization")
    assert r.code == 0, r.err
    assert "10 photos, 40x40" in r.out and "broken.jpg" in r.out
    ab = tmp_path / "ab"
    ab.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(ab / f"{i}.png")
    r = cli("check-data", ab, "--task", "denoise")
    assert "twice as wide as high, like an A|B pair; set data.photo_side" in r.err
    r = cli("check-data", ab, "--task", "denoise", "--set", "data.photo_side=A")
    assert r.code == 0 and "3 photos, 20x20" in r.out and "twice as wide" not in r.err


@pytest.mark.parametrize("output", ["ab", "bins"])
def test_lab_colorization_keeps_the_input_lightness_and_converts_as_scikit_image(output: str, tmp_path: Path):
    if not IN_CI:
        pytest.importorskip("skimage")
    import torch
    from skimage import color

    from pix2pix import Translator
    from pix2pix.models.colour import lab_to_rgb, lightness

    rgb = np.random.default_rng(0).random((12, 12, 3))
    lab = torch.tensor(color.rgb2lab(rgb)).permute(2, 0, 1)[None].float()
    assert np.abs(lab_to_rgb(lab)[0].permute(1, 2, 0).numpy() - rgb).max() < 1e-3
    grey = np.random.default_rng(1).random((12, 12))
    reference = color.rgb2lab(np.stack([grey] * 3, axis=-1))[..., 0]
    assert np.abs(lightness(torch.tensor(grey)[None, None].float())[0, 0].numpy() - reference).max() < 1e-3
    data = _photos(tmp_path / "photos")
    train(_cfg("colorization", "train.max_steps=2", f"model.colorization_output={output}"), data, tmp_path / "run",
          progress=False)
    translator = Translator.from_checkpoint(tmp_path / "run")
    from pix2pix.models.colour import BinnedColorization, LabColorization

    kind = {"ab": LabColorization, "bins": BinnedColorization}[output]
    assert any(isinstance(m, kind) for m in translator.net.modules())  # the model predicts ab, or its bins
    grey_photo = np.asarray(Image.open(data / "IMG_0002.jpg").convert("L"))
    out = np.asarray(translator(Image.fromarray(grey_photo)))
    out_l = color.rgb2lab(out / 255.0)[..., 0]
    in_l = color.rgb2lab(np.stack([grey_photo / 255.0] * 3, axis=-1))[..., 0]
    assert np.abs(out_l - in_l).mean() < 1.5  # the lightness is the input's (up to 8-bit rounding and gamut clipping)


@pytest.mark.parametrize("task", ["superres", "denoise"])
def test_restoration_starts_from_its_input(task: str):
    """Superres and denoise predict a correction to the input: an untrained generator already
    returns about the bicubic / noisy input, not noise."""
    import torch

    from pix2pix.methods import resolve
    from pix2pix.methods.base import generator_from_config
    from pix2pix.models.init import init_weights

    cfg = resolve(_cfg(task))
    net = generator_from_config(cfg, 3, 3)
    init_weights(net, cfg.model.init, cfg.model.init_gain)
    x = torch.rand(2, 3, 32, 32) * 1.6 - 0.8
    with torch.no_grad():
        assert (net.eval()(x) - x).abs().mean() < 0.1


def _binned(temperature: float = 0.38, rebalance: float = 0.0):
    import torch

    from pix2pix.models.colour import BinnedColorization

    class Fixed(torch.nn.Module):  # a 'network' whose output is a given tensor, to probe decode and loss
        def __init__(self) -> None:
            super().__init__()
            self.out = torch.nn.Parameter(torch.zeros(1, BinnedColorization.channels(), 4, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out.expand(x.shape[0], -1, -1, -1)

    return BinnedColorization(Fixed(), temperature, rebalance)


def test_colour_bins_decode_with_the_annealed_mean_and_convert_ab_as_scikit_image():
    import torch
    from skimage import color

    from pix2pix.models.colour import AB_BINS, rgb_to_ab

    rgb = np.random.default_rng(0).random((6, 6, 3))
    ab = rgb_to_ab(torch.tensor(rgb).permute(2, 0, 1)[None].float())[0].permute(1, 2, 0).numpy()
    assert np.abs(ab - color.rgb2lab(rgb)[..., 1:]).max() < 0.05
    logits = torch.full((1, 2, len(AB_BINS), 1, 1), -4.0)
    logits[0, 0, 13], logits[0, 0, 16] = 4.0, 3.0  # a: most mass at +20, some at +50; b: uniform
    logits[0, 1] = 0.0
    mean, mode = _binned(1.0).decode(logits)[0, :, 0, 0], _binned(0.05).decode(logits)[0, :, 0, 0]
    assert abs(float(mode[0]) - 20.0) < 0.5 and abs(float(mean[0]) - 20.0) > 3  # T -> 0: the mode, T = 1: the mean
    assert abs(float(mean[1])) < 1e-3 and abs(float(mode[1])) < 1e-3  # uniform over symmetric bins: 0 either way


def test_colour_bins_cross_entropy_learns_the_colour_and_rebalance_weighs_rare_colours_up():
    import torch

    from pix2pix.models.colour import rgb_to_ab

    net = _binned()
    x = torch.zeros(1, 1, 4, 4)
    red = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1).expand(1, 3, 4, 4) * 2 - 1
    opt = torch.optim.Adam(net.parameters(), 0.05)
    for _ in range(60):
        out, loss = net.train()(x, red)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 2.5 and net.eval()(x).shape == (1, 3, 4, 4)
    target_ab = rgb_to_ab((red + 1) / 2)[0, :, 0, 0]
    learned = net.decode(net.logits(x))[0, :, 0, 0]
    assert (learned - target_ab).abs().max() < 5  # the decoded ab is the target's colour
    # rebalancing: after seeing mostly grey, a red pixel's loss is weighed up against a grey one's
    balanced = _binned(rebalance=0.5).train()
    grey = torch.zeros(1, 3, 4, 4)
    mostly_grey = grey.clone()
    mostly_grey[..., 0, 0] = red[..., 0, 0]
    balanced(x, mostly_grey)  # the prior: 15 grey pixels, 1 red
    assert balanced.prior[0].argmax() == 11  # a = 0 dominates
    balanced.eval()  # scoring only: eval mode leaves the prior as it is
    logits = balanced.logits(x)
    with torch.no_grad():
        loss_red = balanced.cross_entropy(logits, rgb_to_ab((red + 1) / 2).expand(1, 2, 4, 4))
        loss_grey = balanced.cross_entropy(logits, rgb_to_ab((grey + 1) / 2))
        unweighted = _binned().eval()
        assert loss_red / loss_grey > 3 * unweighted.cross_entropy(logits, rgb_to_ab((red + 1) / 2).expand(1, 2, 4, 4)) / \
            unweighted.cross_entropy(logits, rgb_to_ab((grey + 1) / 2))
