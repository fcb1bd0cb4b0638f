"""Distributed training with torch.distributed (gloo, 2 processes on CPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pix2pix.config import load_config
from pix2pix.errors import ConfigError
from pix2pix.training.trainer import Trainer

from conftest import REPO, make_aligned_dataset, make_folder_dataset

ENV = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO / 'tests'}", OMP_NUM_THREADS="1")


def torchrun(*argv: str, nproc: int = 2, timeout: int = 240) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["pix2pix", "cyclegan"])
def test_two_process_gradients_equal_one_process_with_twice_the_batch(tmp_path: Path, method: str):
    data = make_aligned_dataset(tmp_path / "data", {"train": 4}, size=32)
    single, double = tmp_path / "single.pt", tmp_path / "ddp.pt"
    r = subprocess.run([sys.executable, str(REPO / "tests" / "ddp_grads.py"), str(data), str(tmp_path / "r1"), str(single), "2", method],
                       capture_output=True, text=True, env=ENV, timeout=240)
    assert r.returncode == 0, r.stderr
    r = torchrun(str(REPO / "tests" / "ddp_grads.py"), str(data), str(tmp_path / "r2"), str(double), "1", method)
    assert r.returncode == 0, r.stderr
    a, b = torch.load(single), torch.load(double)
    assert a["indices"][:1] == b["indices"]  # rank 0 got the first of the single run's two samples
    assert a["grads"].keys() == b["grads"].keys() and len(a["grads"]) > 10
    scale = {}  # largest gradient of each network
    for key, value in a["grads"].items():
        net = key.split(".")[0]
        scale[net] = max(scale.get(net, 0.0), float(value.abs().max()))
    for key in a["grads"]:
        x, y = a["grads"][key], b["grads"][key]
        if method == "pix2pix":
            assert torch.allclose(x, y, atol=1e-5, rtol=0), key
        else:  # ResNet + cycle losses: gradients up to ~20, equal to float32 rounding at that scale
            assert (x - y).abs().max() <= 1e-4 * max(1.0, scale[key.split(".")[0]]), key


@pytest.mark.slow
def test_torchrun_trains_only_rank_zero_writes_and_resume_in_one_process(tmp_path: Path, cli):
    data = make_folder_dataset(tmp_path / "data", {"train": 6}, size=40)
    run = tmp_path / "run"
    sets = ["--set", "model.ngf=8", "--set", "model.ndf=8", "--set", "data.load_size=36", "--set", "data.crop_size=32",
            "--set", "data.num_workers=0", "--set", "train.max_steps=4", "--set", "train.log_every=1"]
    r = torchrun("-m", "pix2pix", "train", str(data), "--out", str(run), "--no-progress", *sets)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("done: step 4") == 1  # rank 1 reports nothing
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines() if '"train"' in line]
    assert steps == [1, 2, 3, 4]  # one writer: no duplicated lines
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert state["world_size"] == 2 and not any(k.startswith("module.") for k in state["networks"]["G"])
    r = cli("train", "--resume", run, "--set", "train.max_steps=6", "--no-progress")
    assert r.code == 0 and "done: step 6" in r.out


def test_sync_batch_norm_is_refused_on_cpu(tmp_path: Path):
    data = make_folder_dataset(tmp_path / "data", {"train": 2})
    with pytest.raises(ConfigError, match="sync_batch needs CUDA"):
        Trainer(load_config(None, ["model.norm=sync_batch", "train.device=cpu"]), data, tmp_path / "r", progress=False)
