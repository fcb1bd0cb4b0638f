"""One training process per run folder; readers can use a run while it trains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pix2pix.runs import checkpoints as ckpt
from pix2pix.training.run_lock import RunInUse, RunLock
from pix2pix.api import train

from conftest import REPO, make_folder_dataset, tiny_config, tiny_overrides

ENV = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")


def test_second_trainer_is_refused_while_the_first_runs(tmp_path: Path, cli):
    data = make_folder_dataset(tmp_path / "data", {"train": 4}, size=40)
    run = tmp_path / "run"
    sets = [a for item in tiny_overrides(model__ngf=4, model__ndf=4, train__max_steps=100000, train__checkpoint_every=2)
            for a in ("--set", item)]
    proc = subprocess.Popen([sys.executable, "-m", "pix2pix", "train", str(data), "--out", str(run), "--no-progress", *sets],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (run / "checkpoints" / "latest.pt").exists():
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.05)
        resumed = cli("train", "--resume", run)
        assert resumed.code == 2
        assert f"is in use by process {proc.pid} on " in resumed.err and resumed.err.count("\n") == 1, resumed.err
        fresh = cli("train", data, "--out", run, *sets)
        assert fresh.code == 2 and f"process {proc.pid}" in fresh.err
        # readers are welcome: they read the complete checkpoint files that are there
        translated = cli("translate", run, data / "trainA", "--out", tmp_path / "out", "--checkpoint", "latest")
        assert translated.code == 0, translated.err
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert (run / ".lock").read_text() == ""  # released cleanly


def test_two_new_runs_into_one_folder_before_any_checkpoint(tmp_path: Path, folder_data: Path):
    run = tmp_path / "run"
    with RunLock(run):  # the first has the folder but has not written a checkpoint yet
        with pytest.raises(RunInUse, match=f"in use by process {os.getpid()}"):
            train(tiny_config("train.max_steps=1"), folder_data, run, progress=False)
    assert not (run / "checkpoints").exists()


def test_a_refused_run_leaves_no_new_folder_and_keeps_an_existing_one(tmp_path: Path, folder_data: Path, cli):
    refused = ("--set", "model.method=cyclegan", "--set", "loss.lambda_fft=1")
    result = cli("train", folder_data, "--out", tmp_path / "new", *refused)
    assert result.code == 2 and "loss.lambda_fft" in result.err
    assert not (tmp_path / "new").exists()  # the user's next try starts fresh
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert cli("train", folder_data, "--out", mine, *refused).code == 2
    assert (mine / "notes.txt").read_text() == "keep"


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_warning(tmp_path: Path, folder_data: Path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": "h", "started": "then"}) + "\n")
    result = train(tiny_config("train.max_steps=1"), folder_data, run, progress=False)
    assert result.step == 1
    assert f"took over the lock of process {int(dead.stdout)} on h" in capsys.readouterr().err


def test_a_checkpoint_read_while_it_is_being_replaced_is_read_again(tmp_path: Path, folder_data: Path, monkeypatch):
    run = tmp_path / "run"
    train(tiny_config("train.max_steps=1"), folder_data, run, progress=False)
    latest = run / "checkpoints" / "latest.pt"
    sidecar = latest.with_name("latest.pt.sha256")
    good = sidecar.read_text()
    sidecar.write_text("0" * 64 + "  latest.pt\n")  # the moment between the two renames
    threading.Timer(0.15, lambda: sidecar.write_text(good)).start()
    assert ckpt.load_checkpoint(latest)["step"] == 1
    sidecar.write_text("0" * 64 + "  latest.pt\n")  # a real mismatch still fails, after the retries
    with pytest.raises(Exception, match="checksum mismatch"):
        ckpt.load_checkpoint(latest)
