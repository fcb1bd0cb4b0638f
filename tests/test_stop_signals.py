"""Stop signals sent to a whole process group, as timeout, schedulers, terminals and containers send them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pix2pix.runs import checkpoints as ckpt

from conftest import REPO, logged_step, make_folder_dataset, tiny_overrides

ENV = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")


def _sets(**extra: object) -> list[str]:
    settings = dict(model__ngf=4, model__ndf=4, train__log_every=1, train__max_steps=100000, train__checkpoint_every=0)
    values = tiny_overrides(**{**settings, **extra})
    return [a for item in values for a in ("--set", item)]


def _start(argv: list[str]) -> subprocess.Popen:
    """A pix2pix command as the leader of its own process group (as a job under a shell or scheduler)."""
    return subprocess.Popen([sys.executable, "-m", "pix2pix", *argv], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _group_gone(pgid: int, wait_s: float = 10.0) -> bool:
    deadline = time.time() + wait_s
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _train_until(proc: subprocess.Popen, run: Path, step: int) -> None:
    deadline = time.time() + 120
    while logged_step(run) < step:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "training did not reach the step in time"
        time.sleep(0.05)


@pytest.mark.parametrize(
    "sig, method",
    [(signal.SIGTERM, "pix2pix"), (signal.SIGHUP, "pix2pix"), (signal.SIGINT, "pix2pix"), (signal.SIGTERM, "cyclegan")],
)
def test_stop_signal_to_the_group_with_workers_checkpoints_the_last_step(tmp_path: Path, sig: int, method: str):
    data = make_folder_dataset(tmp_path / "data", {"train": 6}, size=40)
    run = tmp_path / "run"
    proc = _start(["train", str(data), "--out", str(run), "--no-progress",
                   *_sets(data__num_workers=2, model__method=method)])
    _train_until(proc, run, 3)
    os.killpg(proc.pid, sig)  # the main process and its DataLoader workers alike
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "killed by signal" not in err, err
    stopped = int(re.search(r"interrupted at step (\d+); checkpoint saved", out).group(1))
    assert stopped >= 3
    state = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["step"] == stopped == logged_step(run)
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    assert _group_gone(proc.pid), "DataLoader workers outlived the command"


@pytest.mark.slow
def test_timeout_sigterm_then_resume_equals_an_uninterrupted_run(tmp_path: Path):
    """`timeout -s TERM` on the job: checkpoint at the stop step, exit 130, and the resumed run is exact."""
    data = make_folder_dataset(tmp_path / "data", {"train": 6}, size=40)
    run = tmp_path / "run"
    proc = _start(["train", str(data), "--out", str(run), "--no-progress", *_sets(data__num_workers=2)])
    _train_until(proc, run, 4)
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    stopped = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")["step"]
    target = stopped + 3
    resumed = subprocess.run([sys.executable, "-m", "pix2pix", "train", "--resume", str(run), "--no-progress",
                              "--set", f"train.max_steps={target}"], env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    straight = subprocess.run([sys.executable, "-m", "pix2pix", "train", str(data), "--out", str(tmp_path / "straight"),
                               "--no-progress", *_sets(data__num_workers=2, train__max_steps=target)],
                              env=ENV, capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr
    got = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")
    expected = ckpt.load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    assert got["step"] == expected["step"] == target
    for name, weights in expected["networks"].items():
        for key, value in weights.items():
            assert torch.equal(value, got["networks"][name][key]), f"{name}.{key}"


def test_stop_signal_to_the_group_during_test_keeps_finished_images_and_no_metrics(tmp_path: Path, trained_run: Path):
    data = make_folder_dataset(tmp_path / "data", {"test": 150}, size=64)
    out_dir = tmp_path / "results"
    proc = _start(["test", str(trained_run), str(data), "--out", str(out_dir), "--no-progress"])
    deadline = time.time() + 120
    while len(list((out_dir / "images").glob("*_output.png"))) < 5 if (out_dir / "images").is_dir() else True:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert not (out_dir / "metrics.json").exists()  # written only when complete
    from PIL import Image

    written = list((out_dir / "images").iterdir())
    assert 0 < len(written) < 3 * 150
    assert not [p for p in written if p.name.endswith(".tmp")]
    for path in written:
        with Image.open(path) as image:
            image.load()  # every file there is whole


@pytest.mark.slow
def test_nproc_launcher_passes_the_signal_on_and_leaves_nothing_running(tmp_path: Path):
    data = make_folder_dataset(tmp_path / "data", {"train": 6}, size=40)
    run = tmp_path / "run"
    proc = _start(["train", str(data), "--out", str(run), "--no-progress", "--nproc", "2", *_sets(data__num_workers=1)])
    _train_until(proc, run, 3)
    proc.send_signal(signal.SIGTERM)  # the launcher alone (a supervisor stopping its child)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert re.search(r"interrupted at step \d+; checkpoint saved", out), out + err
    state = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["step"] >= 3 and state["world_size"] == 2
    assert _group_gone(proc.pid)
    leftovers = subprocess.run(["pgrep", "-f", str(run)], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"processes still running for the run: {leftovers}"


def test_a_program_that_exits_with_workers_alive_does_not_hang(tmp_path: Path):
    """Workers leave the group's SIGTERM to the main process, but their parent's SIGTERM (what
    multiprocessing sends at exit) still ends them."""
    data = make_folder_dataset(tmp_path / "data", {"train": 4}, size=40)
    script = (
        "import sys\n"
        "from pix2pix.config import load_config\n"
        "from pix2pix.training.trainer import Trainer\n"
        "cfg = load_config(None, ['data.crop_size=32', 'data.load_size=36', 'model.ngf=4', 'model.ndf=4', 'data.num_workers=2'])\n"
        "loader = iter(Trainer(cfg, sys.argv[1], sys.argv[2], progress=False).make_loader())\n"
        "next(loader)\n"
    )
    started = time.time()
    r = subprocess.run([sys.executable, "-c", script, str(data), str(tmp_path / "run")], env=ENV, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert time.time() - started < 60


def test_training_through_the_api_leaves_the_callers_signal_handlers_alone(tmp_path: Path, monkeypatch):
    """Signal handling belongs to the command; a program (a notebook) opts in with handle_signals=True."""
    from pix2pix.api import train
    from pix2pix.training.trainer import Trainer

    from conftest import tiny_config

    seen = []
    original = Trainer.step_once

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.append(signal.getsignal(signal.SIGTERM))
        return original(self, *args, **kwargs)

    def mine(signum, frame):  # noqa: ANN001, ANN202
        pass

    monkeypatch.setattr(Trainer, "step_once", spy)
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        train(tiny_config("train.max_steps=1"), "demo:shapes", tmp_path / "api", progress=False)
        assert seen == [mine]
        train(tiny_config("train.max_steps=1"), "demo:shapes", tmp_path / "opted_in", progress=False, handle_signals=True)
        assert seen[-1] is not mine and signal.getsignal(signal.SIGTERM) is mine  # installed while training, then restored
    finally:
        signal.signal(signal.SIGTERM, previous)
