"""Faults: SIGKILL at random moments, a full disk while checkpointing."""

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pix2pix.errors import CheckpointError
from pix2pix.runs import checkpoints as ckpt
from pix2pix.api import resume, train

from conftest import REPO, logged_step, make_folder_dataset, tiny_config, tiny_overrides

ENV = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
SETTINGS = tiny_overrides(model__ngf=4, model__ndf=4, train__max_steps=40, train__checkpoint_every=2,
                          train__keep_checkpoints=2, train__val_every=5, train__log_every=1)


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_gives_the_same_weights(tmp_path: Path):
    data = make_folder_dataset(tmp_path / "data", {"train": 6}, size=40)
    sets = [a for item in SETTINGS for a in ("--set", item)]
    straight = subprocess.run([sys.executable, "-m", "pix2pix", "train", str(data), "--out", str(tmp_path / "straight"),
                               "--no-progress", *sets], env=ENV, capture_output=True, text=True)  # same threads as below
    assert straight.returncode == 0, straight.stderr
    expected = ckpt.load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")

    run = tmp_path / "killed"
    rng = random.Random(1234)
    kills = 0
    for target in sorted(rng.sample(range(4, 26), 3)):  # at least 14 steps left: the kill lands before the run ends
        resuming = (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("*.pt"))
        argv = ["train", "--resume", str(run)] if resuming else ["train", str(data), "--out", str(run)]
        if not resuming:
            argv += sets
        proc = subprocess.Popen([sys.executable, "-m", "pix2pix", *argv, "--no-progress"], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while proc.poll() is None and logged_step(run) < target and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))  # land anywhere: mid-step, mid-checkpoint
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        state, _ = ckpt.load_resumable(run)  # whatever the moment, an intact checkpoint is there
        assert state["step"] >= 2
    assert kills >= 2
    final = subprocess.run([sys.executable, "-m", "pix2pix", "train", "--resume", str(run), "--no-progress"],
                           env=ENV, capture_output=True, text=True)
    assert final.returncode == 0 and "done: step 40" in final.stdout, final.stderr
    assert not list((run / "checkpoints").glob(".*tmp"))  # temp files of killed writes are cleared on resume
    got = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")
    for name, weights in expected["networks"].items():
        for key, value in weights.items():
            assert torch.equal(value, got["networks"][name][key]), f"{name}.{key}"


def test_full_disk_while_checkpointing_keeps_the_previous_one(tmp_path: Path, monkeypatch):
    data = make_folder_dataset(tmp_path / "data", {"train": 4})
    run = tmp_path / "r"
    train(tiny_config("train.max_steps=2", "train.checkpoint_every=2"), data, run, progress=False)
    before = (run / "checkpoints" / "latest.pt").read_bytes()
    real_open = open

    def full_disk(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if "w" in mode and str(file).endswith(".tmp") and "checkpoints" in str(file):
            def write(data):
                handle.close()
                raise OSError(errno.ENOSPC, "No space left on device")
            handle.write = write
        return handle

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoint .*latest.pt is intact"):
        resume(run, ["train.max_steps=4"], progress=False)
    monkeypatch.undo()
    assert (run / "checkpoints" / "latest.pt").read_bytes() == before
    assert ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 2
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
