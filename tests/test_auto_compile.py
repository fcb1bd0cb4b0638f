"""Compiling for inference only where it pays, and falling back to eager where it fails."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pix2pix.runtime import compile as compile_module
from pix2pix.runtime.compile import AutoCompiledRunner


class Counting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * 2


@pytest.fixture
def fake_compile(monkeypatch):
    """torch.compile replaced by a wrapper that counts compiled calls (no inductor in unit tests)."""
    compiled = {"calls": 0, "builds": 0}

    def fake(net, **kwargs):
        compiled["builds"] += 1
        assert kwargs["options"]["freezing"] is True and kwargs["dynamic"] is False  # scoped options, one shape each

        def run(x):
            compiled["calls"] += 1
            return net(x)

        return run

    monkeypatch.setattr(compile_module.torch, "compile", fake)
    return compiled


def _runner(setting: str, expected: int | None, eager_seconds: float, monkeypatch, precision: str = "bf16"):
    runner = AutoCompiledRunner(Counting(), torch.device("cpu"), setting, precision, expected)
    clock = [0.0]

    def perf_counter():
        clock[0] += eager_seconds  # consecutive readings: each eager call appears to take eager_seconds
        return clock[0]

    monkeypatch.setattr(compile_module.time, "perf_counter", perf_counter)
    return runner


def test_known_count_compiles_only_when_the_rest_repays_it(fake_compile, monkeypatch):
    x = torch.ones(1, 3, 8, 8)
    few = _runner("auto", expected=10, eager_seconds=0.1, monkeypatch=monkeypatch)  # 1 s of eager work in all
    for _ in range(10):
        few(x)
    assert fake_compile["calls"] == 0
    many = _runner("auto", expected=2000, eager_seconds=0.1, monkeypatch=monkeypatch)  # 200 s: repays 30 s
    for _ in range(5):
        many(x)
    assert many.net.calls == 1 and fake_compile["calls"] == 4  # the first call measured eagerly, then the compiled copy


@pytest.mark.parametrize("price", [7.0, 30.0])
def test_unknown_count_rents_until_the_rent_equals_the_price(fake_compile, monkeypatch, price: float):
    x = torch.ones(2, 3, 8, 8)
    runner = _runner("auto", expected=None, eager_seconds=1.0, monkeypatch=monkeypatch)
    runner.compile_seconds = price  # the price of compiling, set here: the rule is tested, not the constant
    for _ in range(40):
        runner(x)
    eager_calls = 40 - fake_compile["calls"]
    assert eager_calls == int(price)  # one-second eager calls until they add up to the price, then compiled
    other = torch.ones(1, 3, 16, 16)
    runner(other)  # a new shape starts eagerly again
    assert fake_compile["calls"] == 40 - eager_calls


def test_auto_never_compiles_where_compiled_calls_are_not_faster(fake_compile, monkeypatch):
    runner = _runner("auto", expected=100000, eager_seconds=1.0, monkeypatch=monkeypatch, precision="fp32")
    for _ in range(5):
        runner(torch.ones(1, 3, 8, 8))
    runner.approve((1, 3, 8, 8))
    runner(torch.ones(1, 3, 8, 8))
    assert fake_compile["builds"] == 0 and runner.setting == "false"


def test_a_failing_compiler_warns_once_and_runs_eagerly(monkeypatch, capsys):
    def broken(net, **kwargs):
        def run(x):
            raise RuntimeError("no C++ compiler found")
        return run

    monkeypatch.setattr(compile_module.torch, "compile", broken)
    runner = AutoCompiledRunner(Counting(), torch.device("cpu"), "true")
    outputs = [runner(torch.ones(1, 1, 2, 2)) for _ in range(3)]
    assert all(torch.equal(y, torch.full((1, 1, 2, 2), 2.0)) for y in outputs)
    err = capsys.readouterr().err
    assert err.count("warning: torch.compile failed (no C++ compiler found); translating without it") == 1


def test_translator_defaults_resolve_precision_before_the_memory_layout(trained_run, monkeypatch):
    from pix2pix import Translator
    from pix2pix.inference import load_model
    import pix2pix.inference as inference

    monkeypatch.setattr(inference, "resolve_inference_precision", lambda kind, device: "bf16" if kind == "auto" else kind)
    t = Translator(load_model(trained_run), device="cpu")
    assert t.precision.kind == "bf16" and t.precision.channels_last  # auto -> bf16 -> NHWC
    t32 = Translator(load_model(trained_run), device="cpu", precision="fp32")
    assert t32.precision.kind == "fp32" and not t32.precision.channels_last
    assert t.runner.setting == "auto" and Translator(load_model(trained_run), compile=False).runner.setting == "false"


def test_warm_up_compiles_the_training_size_at_each_batch_size(trained_run, fake_compile):
    from pix2pix import Translator
    from pix2pix.inference import load_model

    t = Translator(load_model(trained_run), device="cpu", precision="fp32", compile=True)
    t.warm_up((1, 3))
    assert t.runner.compiled_shapes == {(1, 3, 64, 64), (3, 3, 64, 64)}
    out = t.translate_arrays([np.zeros((64, 64, 3), np.uint8)] * 3, batch_size=3)
    assert len(out) == 3 and fake_compile["calls"] == 3
