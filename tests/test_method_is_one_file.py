"""A method is one file. A method written here, in the test file, with its own network, config section,
loss term and test column, trains, resumes exactly, tests and exports with no file of the package
touched; and every registered method runs the same whole cycle on synthetic data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import torch
from torch import nn

from pix2pix.api import resume, train
from pix2pix.config import Section, check, load_config
from pix2pix.evaluation.testing import run_test
from pix2pix.export import export_model
from pix2pix.methods import method_class, method_names, register_method
from pix2pix.methods import registry as method_registry
from pix2pix.methods.base import Networks, StepRuntime, build_adam, generator_from_config, model_inputs
from pix2pix.models import init_weights, register_generator
from pix2pix.models import registry as model_registry
from pix2pix.runs import checkpoints as ckpt

from conftest import tiny_overrides
from test_training import assert_same_state


def two_convs(*, in_channels: int, out_channels: int, ngf: int, norm: str, dropout: float, image_size: int,
              upsample: str = "transposed") -> nn.Module:
    """The toy method's network: two 3x3 convolutions, any size in, the same size out."""
    return nn.Sequential(nn.Conv2d(in_channels, ngf, 3, padding=1), nn.ReLU(), nn.Conv2d(ngf, out_channels, 3, padding=1),
                         nn.Tanh())


@dataclass
class SmootherOptions(Section):
    """[smoother]: the toy method's own key."""

    lambda_tv: float = 0.5  # weight of the total-variation term

    def __post_init__(self) -> None:
        check(self.lambda_tv >= 0, "smoother.lambda_tv", "must be >= 0")


class Smoother(Networks):
    """L1 regression plus a total-variation term, without a discriminator."""

    name = "smoother"
    options = SmootherOptions
    data_kind = "paired"
    paper_defaults = {"model.generator": "two_convs", "model.norm": "none", "model.dropout": 0.0,
                      "model.upsample": "transposed", "model.input_skip": 0, "loss.gan_mode": "lsgan", "train.ema_decay": 0.0}
    defaults = paper_defaults
    generator_keys = {"AtoB": "G"}
    health_signals = ()
    test_columns = ("input", "output", "target", "difference")
    round_trip = False
    progress_keys = {"loss_G_L1": "L1", "loss_TV": "TV"}
    research_generators = ()

    def __init__(self, cfg: Any, channels: tuple[int, int], device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.nets = {"G": init_weights(generator_from_config(cfg, *channels), cfg.model.init, cfg.model.init_gain).to(device)}
        t = cfg.train
        self.opts = {"G": build_adam(self.nets["G"].parameters(), t.lr_g, t.beta1, t.beta2, device)}
        self.averages = {}

    def train_step(self, batch: dict[str, torch.Tensor], runtime: StepRuntime) -> dict[str, torch.Tensor]:
        real_a, real_b = model_inputs(batch, ("input", "target"), self.device, runtime)
        self.opts["G"].zero_grad(set_to_none=True)
        with runtime.autocast():
            fake_b = self.nets["G"](real_a)
        l1 = (fake_b.float() - real_b.float()).abs().mean() * self.cfg.loss.lambda_l1
        tv = ((fake_b[..., 1:, :] - fake_b[..., :-1, :]).abs().mean() + (fake_b[..., 1:] - fake_b[..., :-1]).abs().mean())
        tv = tv.float() * self.cfg.options.lambda_tv
        runtime.step(l1 + tv, self.opts["G"])
        return {"loss_G": (l1 + tv).detach(), "loss_G_L1": l1.detach(), "loss_TV": tv.detach()}

    @staticmethod
    def test_images(inp: np.ndarray, output: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
        difference = np.abs(output.astype(np.int16) - target.astype(np.int16)).astype(np.uint8)
        return {"input": inp, "output": output, "target": target, "difference": difference}


@pytest.fixture
def smoother() -> Iterator[type]:
    """The toy method and its network, registered for one test (the registries hold them for no other)."""
    register_generator("two_convs")(two_convs)
    register_method(Smoother)
    try:
        yield Smoother
    finally:
        method_registry._METHODS.pop("smoother", None)
        model_registry._GENERATORS.pop("two_convs", None)


def whole_cycle(data: Path, root: Path, overrides: list[str]) -> dict[str, Any]:
    """Train 4 steps straight, and 2 then a resume to 4: the same state; then test and export the run."""
    def cfg(steps: int) -> Any:
        return load_config(None, tiny_overrides(model__ngf=4, model__ndf=4, train__val_every=2) + overrides
                           + [f"train.max_steps={steps}"])

    train(cfg(4), data, root / "straight", progress=False)
    train(cfg(2), data, root / "split", progress=False)
    assert resume(root / "split", ["train.max_steps=4"], progress=False).step == 4
    straight, split = (ckpt.load_checkpoint(root / run / "checkpoints" / "latest.pt") for run in ("straight", "split"))
    assert_same_state(straight, split)
    run = root / "split"
    tested = run_test(run, data, progress=False)
    exported = export_model(run, "torchscript", root / "model.pt")
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return {"run": run, "tested": tested, "exported": exported, "log": log, "config": (run / "config.toml").read_text(),
            "page": (tested.folder / "index.html").read_text()}


def test_a_method_written_in_one_file_trains_resumes_tests_and_exports(smoother: type, folder_data: Path, tmp_path: Path):
    result = whole_cycle(folder_data, tmp_path, ["model.method=smoother", "smoother.lambda_tv=0.25"])
    assert "[smoother]\nlambda_tv = 0.25\n" in result["config"]  # its section, saved with the run
    assert 'generator = "two_convs"' in result["config"]  # its network, from its defaults
    steps = [entry for entry in result["log"] if entry["event"] == "train"]
    assert [entry["step"] for entry in steps] == [1, 2, 3, 4] and all(entry["loss_TV"] > 0 for entry in steps)  # its loss
    assert result["tested"].count == 3 and "_difference.png" in result["page"]  # its test column
    assert result["exported"].max_diff < 1e-4


def test_a_method_section_is_refused_for_another_method_and_its_checks_are_the_methods(smoother: type, folder_data: Path,
                                                                                       tmp_path: Path):
    from pix2pix.errors import ConfigError

    with pytest.raises(ConfigError, match="smoother.lambda_tv: must be >= 0"):
        train(load_config(None, ["model.method=smoother", "smoother.lambda_tv=-1"]), folder_data, tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match=r"\[smoother\] holds options of the smoother method, and model.method is pix2pix"):
        train(load_config(None, ["smoother.lambda_tv=1"]), folder_data, tmp_path / "b", progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # refused before the run folder is made


def test_a_method_whose_defaults_leave_an_auto_key_is_refused_when_it_registers():
    class Careless(Smoother):
        name = "careless"
        defaults = {key: value for key, value in Smoother.defaults.items() if key != "model.norm"}

    with pytest.raises(ValueError, match="careless.*defaults leave model.norm on auto"):
        register_method(Careless)
    assert "careless" not in method_names()


@pytest.mark.parametrize("name", method_names())
def test_every_registered_method_runs_the_whole_cycle(name: str, folder_data: Path, tmp_path: Path):
    cls = method_class(name)
    result = whole_cycle(folder_data, tmp_path, [f"model.method={name}"])
    assert f"[{name}]\n" in result["config"] and f'method = "{name}"' in result["config"]
    logged = {key for entry in result["log"] if entry["event"] == "train" for key in entry}
    assert set(cls.progress_keys) <= logged
    if cls.data_kind == "paired":
        assert all(f"_{column}.png" in result["page"] for column in cls.test_columns)
    else:
        assert "_fake_B.png" in result["page"] and ("_rec_A.png" in result["page"]) == cls.round_trip
    assert result["tested"].count >= 3 and result["exported"].max_diff < 1e-3
    measures = {entry["measure"] for entry in result["log"] if entry["event"] == "val"}
    assert measures == ({"cycle L1"} if cls.round_trip else {"L1"} if cls.data_kind == "paired" else {"L1 to same-named B"})
