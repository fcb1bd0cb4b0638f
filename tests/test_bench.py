"""The benchmark measures our real code paths, and its quick mode runs as CI runs it."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def load_bench():
    spec = importlib.util.spec_from_file_location("bench", REPO / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_our_side_calls_the_trainers_step_and_the_translator(tmp_path: Path, monkeypatch):
    bench = load_bench()
    from pix2pix.inference import Translator
    from pix2pix.methods.pix2pix import Pix2Pix
    from pix2pix.training.trainer import Trainer

    calls = {"train_step": 0, "translate_arrays": 0, "make_loader": 0, "step_once": 0}
    for owner, name in ((Pix2Pix, "train_step"), (Translator, "translate_arrays"), (Trainer, "make_loader"),
                        (Trainer, "step_once")):
        original = getattr(owner, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    data = bench.prepare(tmp_path, 32, train_count=4, test_count=2)
    spec = {"size": 32, "data": str(data), "init": str(bench.initial_weights(tmp_path, 32)), "device": "cpu",
            "threads": 1, "workers": 0, "warmup": 1, "steps": 1}
    ref = bench.run_train({**spec, "side": "ref"})
    ref_infer = bench.run_infer({**spec, "side": "ref", "count": 1})
    assert calls == {"train_step": 0, "translate_arrays": 0, "make_loader": 0, "step_once": 0}  # the reference: its own loop
    ours = bench.run_train({**spec, "side": "ours", "batch": 2})
    assert calls["step_once"] == calls["train_step"] >= 3 and calls["make_loader"] == 1  # the trainer's whole step
    ours_infer = bench.run_infer({**spec, "side": "ours", "options": {"precision": "fp32", "compile": False}, "count": 1})
    assert calls["translate_arrays"] >= 2
    for result in (ref, ours, ref_infer, ours_infer):
        assert result["img_per_s"] > 0 and result["peak_mb"] > 0
    assert ours["flops_per_image"] > 1e6


@pytest.mark.slow
def test_quick_mode_prints_the_table_and_the_ratios_line(tmp_path: Path):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    figures_file = tmp_path / "figures.json"
    r = subprocess.run([sys.executable, "-m", "pix2pix", "bench", "--quick", "--json", str(figures_file)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert any("reference (fp32, batch 1)" in line for line in lines)
    assert any("ours, default (no options)" in line for line in lines)  # the inference row is the default path
    result = json.loads(lines[-1])
    assert result["quick"] is True
    figures = json.loads(figures_file.read_text())["128"]
    for side in ("train_ref", "train_ours_b1", "infer_ref", "infer_ours"):  # measured, not placeholders
        assert figures[side]["img_per_s"] > 0 and figures[side]["peak_mb"] > 0
    assert set(result["ratios"]) >= {"train_128", "train_128_batch1", "infer_128", "memory_128_batch1", "quality_l1_128"}
    assert 0 < result["ratios"]["quality_l1_128"] < 2  # both sides learned something comparable


def test_ratios_are_ours_over_the_reference_at_our_better_batch_size():
    bench = load_bench()

    def side(img_per_s: float, peak_mb: float = 100.0) -> dict:
        return {"img_per_s": img_per_s, "peak_mb": peak_mb}

    figures = {"128": {"train_ref": side(2.0, 400.0), "train_ours_b1": side(3.0, 300.0), "train_ours_b8": side(5.0),
                       "infer_ref": side(10.0), "infer_ours": side(25.0)},
               "256": {"train_ref": side(1.0), "train_ours_b1": side(0.5), "train_ours_b8": side(1.5),
                       "infer_ref": side(4.0), "infer_ours": side(2.0)},
               "quality": {"ours_b1": {"l1": 0.15}, "reference": {"l1": 0.20}}}
    ratios = bench.ratios_of(figures, [128, 256], 128, 8)
    assert ratios == pytest.approx({"train_128": 2.5, "train_128_batch1": 1.5, "infer_128": 2.5, "memory_128_batch1": 0.75,
                                    "quality_l1_128": 0.75, "train_256": 1.5, "infer_256": 0.5})


def test_reference_runs_torch_nn_layers_and_ours_the_matmul_ones(tmp_path: Path):
    """The reference must not inherit our runtime's speed-ups: it gets torch.nn's layers as built, with no
    conversion, while our side's trainer applies the CPU kernel choice to its generator."""
    from torch import nn

    from pix2pix.runtime.cpu_kernels import MatmulConv2d, MatmulConvTranspose2d

    bench = load_bench()
    spec = {"size": 32, "init": str(bench.initial_weights(tmp_path, 32)), "device": "cpu"}
    G, D = bench.shared_nets(spec)
    convs = [m for net in (G, D) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert convs and all(type(m) in (nn.Conv2d, nn.ConvTranspose2d) for m in convs)
    data = bench.prepare(tmp_path, 32, train_count=4, test_count=2)
    _, _, ours_G, _ = bench.ours_train({**spec, "data": str(data), "batch": 1, "workers": 0}, tmp_path)
    assert any(isinstance(m, (MatmulConv2d, MatmulConvTranspose2d)) for m in ours_G.modules())
