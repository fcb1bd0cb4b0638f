"""train.max_minutes: a wall-clock budget for the training loop, summed across resumes."""

from __future__ import annotations

from pathlib import Path

from pix2pix.runs import checkpoints as ckpt
from pix2pix.training.budget import TimeBudget
from pix2pix.api import resume, train

from conftest import tiny_config


def test_budget_stops_with_a_checkpoint_and_resume_with_more_continues(folder_data: Path, tmp_path: Path, cli):
    run = tmp_path / "run"
    first = cli("train", folder_data, "--out", run, "--no-progress", "--set", "train.max_minutes=0.01",
                *[a for item in ("data.load_size=36", "data.crop_size=32", "model.ngf=8", "model.ndf=8",
                                 "data.num_workers=0", "train.val_every=0", "train.sample_every=0") for a in ("--set", item)])
    assert first.code == 0, first.err
    assert "the time budget (train.max_minutes) is used up" in first.out
    state = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")
    stopped = state["step"]
    assert stopped >= 1 and 0.6 <= state["train_seconds"] < 10
    again = resume(run, progress=False)  # same budget: nothing left
    assert again.status == "budget" and again.step == stopped
    used = state["train_seconds"]  # 0.6 s and the last step's overshoot, however slow the machine
    more = resume(run, [f"train.max_minutes={(used + 1.2) / 60}"], progress=False)  # 1.2 s more than used
    assert more.status == "budget" and more.step > stopped
    assert used + 1.2 <= ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")["train_seconds"] < used + 15


class FakeClock:
    """Each reading 50 ms after the last: time that depends on nothing but the code's own readings."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.05
        return self.now


def test_budget_excludes_start_up(folder_data: Path, tmp_path: Path, monkeypatch):
    """A slow start (data caching, building networks) does not eat the budget."""
    import functools

    import pix2pix.training.trainer as trainer_module

    clock = FakeClock()
    monkeypatch.setattr(trainer_module, "TimeBudget", functools.partial(TimeBudget, clock=clock))
    real = trainer_module.Trainer.__init__

    def slow_init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        clock.now += 100.0  # 100 s of start-up after the budget object exists

    monkeypatch.setattr(trainer_module.Trainer, "__init__", slow_init)
    result = train(tiny_config("train.max_minutes=0.01"), folder_data, tmp_path / "run", progress=False)
    seconds = ckpt.load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["train_seconds"]
    # 0.6 s of budget, each step reads the clock a few times: stopped within a few readings of it
    assert result.status == "budget" and 0.6 <= seconds < 0.6 + 20 * 0.05


def test_final_step_follows_the_budget():
    now = [100.0]
    budget = TimeBudget(minutes=1.0, earlier_seconds=30.0, clock=lambda: now[0])  # 30 s left
    budget.start(step=200)
    assert budget.final_step(200, scheduled=10_000) == 10_000  # no rate known yet
    now[0] += 10.0  # 100 steps in 10 s: 10 steps/s, 20 s left
    assert budget.final_step(300, scheduled=10_000) == 300 + 200 + 1
    assert budget.final_step(300, scheduled=400) == 400  # the schedule ends first
    assert not budget.exhausted()
    now[0] += 20.0
    assert budget.exhausted()
    assert not TimeBudget(minutes=0).exhausted()
