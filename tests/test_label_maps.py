"""Label maps as outputs (model.output_palette): one class per pixel, its colour drawn, the palette kept in the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pix2pix import Translator
from pix2pix.api import train
from pix2pix.config import load_config
from pix2pix.data.palette import load_palette
from pix2pix.errors import ConfigError
from pix2pix.models.label_maps import PaletteClasses

from conftest import pattern_pair, tiny_overrides

COLOURS = np.array([[0, 0, 255], [255, 255, 0], [255, 0, 0]])


class Logits(torch.nn.Module):
    """A stand-in net: fixed logits, as tanh outputs (the generators end in tanh)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits


def test_the_head_draws_the_likeliest_class_and_d_sees_the_expected_colour():
    logits = torch.tensor([0.9, 0.1, -0.5]).view(1, 3, 1, 1).expand(1, 3, 2, 2).clone()
    logits[..., 1, 1] = torch.tensor([-0.5, 0.2, 0.8])
    head = PaletteClasses(Logits(logits), COLOURS)
    x = torch.zeros(1, 3, 2, 2)
    drawn = ((head(x) + 1) * 127.5).round()
    assert drawn[0, :, 0, 0].tolist() == [0, 0, 255] and drawn[0, :, 1, 1].tolist() == [255, 0, 0]
    target = torch.tensor([[0, 0, 250], [250, 250, 10], [250, 5, 0], [0, 0, 255]], dtype=torch.float32)
    target = (target.T.reshape(1, 3, 2, 2) / 127.5 - 1)
    assert head.classes(target).flatten().tolist() == [0, 1, 2, 0]  # each pixel's nearest colour
    soft, loss = head(x, target)
    p = torch.softmax(logits * 8, dim=1)
    assert torch.allclose(soft, torch.einsum("bkhw,kc->bchw", p, head.colours), atol=1e-6)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits * 8, head.classes(target)).item(), rel=1e-5)


def test_a_run_keeps_its_colours_and_draws_only_them(folder_data: Path, tmp_path: Path):
    palette = tmp_path / "mine.json"
    palette.write_text(json.dumps({"names": ["blue", "yellow", "red"], "colors": COLOURS.tolist()}))
    cfg = load_config(None, tiny_overrides(model__ngf=4, model__ndf=4, train__max_steps=3)
                      + [f"model.output_palette={palette}"])
    train(cfg, folder_data, tmp_path / "run", progress=False)
    palette.unlink()  # the run keeps the colours themselves
    assert 'output_palette = "#0000ff,#ffff00,#ff0000"' in (tmp_path / "run" / "config.toml").read_text()
    drawn = Translator.from_checkpoint(tmp_path / "run", precision="fp32")(pattern_pair(3)[0])
    colours = {tuple(c) for c in np.asarray(drawn).reshape(-1, 3).tolist()}
    assert colours and colours <= {tuple(c) for c in COLOURS.tolist()}


@pytest.mark.parametrize("extra, message", [
    (["model.output_palette=#00ff00,#12345g"], "model.output_palette: '#12345g' is not a colour #rrggbb"),
    (["model.output_palette=nowhere.json"], "model.output_palette nowhere.json: not a built-in palette"),
    (["model.output_palette=facades", "model.method=cyclegan"], "model.output_palette is an option of the pix2pix method"),
    (["model.output_palette=facades", "model.method=bicyclegan"], "model.output_palette is an option of the pix2pix method"),
])
def test_bad_palettes_are_one_line_errors(folder_data: Path, tmp_path: Path, extra: list[str], message: str):
    with pytest.raises(ConfigError, match=message) as info:
        train(load_config(None, tiny_overrides(train__max_steps=1) + extra), folder_data, tmp_path / "run", progress=False)
    assert "\n" not in str(info.value)


def test_inline_palettes_read_back():
    facades = load_palette("facades")
    from pix2pix.data.palette import inline

    assert np.array_equal(load_palette(inline(facades)).colors, facades.colors)
