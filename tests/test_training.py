"""The training loop: exact resume, refusing unsafe resumes, fine-tuning, NaN handling, outputs."""

import json
from pathlib import Path

import pytest
import torch

from pix2pix.config import load_config
from pix2pix.errors import CheckpointError, ConfigError, TrainingDiverged
from pix2pix.methods import method_names
from pix2pix.methods.pix2pix import Pix2Pix
from pix2pix.runs import checkpoints as ckpt
from pix2pix.training.schedule import lr_factor
from pix2pix.api import resume, train
from pix2pix.training.trainer import Trainer

from conftest import tiny_overrides


def cfg_for(*extra: str, **kw):
    # 64 px -> U-Net depth 6, which has a dropout block: resume must restore its RNG too.
    base = tiny_overrides(data__load_size=72, data__crop_size=64, model__ngf=4, model__ndf=4, train__batch_size=2, **kw)
    return load_config(None, base + list(extra))


def weights(run: Path) -> dict:
    return ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")


def assert_same_state(a: dict, b: dict) -> None:
    for name in a["networks"]:
        for key, value in a["networks"][name].items():
            assert torch.equal(value, b["networks"][name][key]), f"{name}.{key} differs"
    for name in a["optimizers"]:
        for pid, state in a["optimizers"][name]["state"].items():
            for key, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizers"][name]["state"][pid][key]))


@pytest.mark.parametrize("gan_mode", ["vanilla", "wgangp"])
def test_n_steps_plus_resume_equals_2n_steps(folder_data: Path, tmp_path: Path, gan_mode: str):
    extra = [f"loss.gan_mode={gan_mode}", "train.val_every=2", "train.sample_every=3"]
    straight = train(cfg_for(*extra, "train.max_steps=8"), folder_data, tmp_path / "straight", progress=False)
    assert straight.step == 8
    first = train(cfg_for(*extra, "train.max_steps=4"), folder_data, tmp_path / "split", progress=False)
    assert first.step == 4
    second = resume(tmp_path / "split", ["train.max_steps=8"], progress=False)
    assert second.step == 8
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert (a["epoch"], a["batch_in_epoch"]) == (b["epoch"], b["batch_in_epoch"])
    assert_same_state(a, b)
    steps = [e["step"] for e in map(json.loads, (tmp_path / "split" / "log.jsonl").read_text().splitlines()) if e["event"] == "train"]
    assert steps == list(range(1, 9))  # no duplicated or missing steps after resume


def test_worker_processes_do_not_change_results(folder_data: Path, tmp_path: Path):
    train(cfg_for("train.max_steps=3", "data.num_workers=0"), folder_data, tmp_path / "w0", progress=False)
    train(cfg_for("train.max_steps=3", "data.num_workers=2"), folder_data, tmp_path / "w2", progress=False)
    assert_same_state(weights(tmp_path / "w0"), weights(tmp_path / "w2"))


def test_resume_refuses_model_and_data_changes(folder_data: Path, tmp_path: Path):
    run = tmp_path / "r"
    train(cfg_for("train.max_steps=2"), folder_data, run, progress=False)
    for change in ("model.ngf=8", "data.crop_size=32", "train.lr_g=0.1", "loss.lambda_l1=1"):
        with pytest.raises(ConfigError, match=f"cannot change {change.split('=')[0]}"):
            resume(run, [change, "train.max_steps=3"], progress=False)
    result = resume(run, ["train.max_steps=3", "train.log_every=5", "train.checkpoint_every=7"], progress=False)
    assert result.step == 3
    assert "log_every = 5" in (run / "config.toml").read_text()


def test_new_run_never_overwrites_an_existing_one(folder_data: Path, tmp_path: Path):
    run = tmp_path / "r"
    train(cfg_for("train.max_steps=1"), folder_data, run, progress=False)
    before = (run / "checkpoints" / "latest.pt").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg_for("train.max_steps=1"), folder_data, run, progress=False)
    assert (run / "checkpoints" / "latest.pt").read_bytes() == before


def test_init_from_copies_weights_but_not_the_step(folder_data: Path, tmp_path: Path):
    train(cfg_for("train.max_steps=2"), folder_data, tmp_path / "base", progress=False)
    source = weights(tmp_path / "base")
    trainer = Trainer(cfg_for("train.max_steps=2", "train.lr_g=0.001"), folder_data, tmp_path / "ft",
                      init_from=tmp_path / "base", progress=False)
    assert trainer.step == 0
    taken = {"G": "G_ema", "D": "D", "G_ema": "G_ema"}  # the generator starts from the source's weight average
    for name, net in trainer.method.networks().items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, source["networks"][taken[name]][key])
    with pytest.raises(CheckpointError, match="does not fit"):
        Trainer(cfg_for("model.ngf=8"), folder_data, tmp_path / "ft2", init_from=tmp_path / "base", progress=False)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(folder_data: Path, tmp_path: Path, monkeypatch):
    real_step = Pix2Pix.train_step
    calls = {"n": 0}

    def poisoned(self, batch, runtime):
        losses = real_step(self, batch, runtime)
        calls["n"] += 1
        if calls["n"] == 4:
            losses["loss_G_L1"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(Pix2Pix, "train_step", poisoned)
    run = tmp_path / "r"
    with pytest.raises(TrainingDiverged, match="loss_G_L1 became nan at step 4.*last good checkpoint"):
        train(cfg_for("train.max_steps=10", "train.checkpoint_every=2"), folder_data, run, progress=False)
    assert weights(run)["step"] == 2
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any(e["event"] == "nan" and e["losses"] == ["loss_G_L1"] for e in events)


def test_nan_skip_mode_skips_that_update_and_goes_on(folder_data: Path, tmp_path: Path, monkeypatch):
    """A NaN in G's loss at step 2: G's update of that step is skipped (its weights stay), D's is not."""
    import pix2pix.methods.pix2pix as p2p

    real_l1 = p2p.F.l1_loss
    calls = {"n": 0}

    def poisoned_l1(*args, **kwargs):
        calls["n"] += 1
        value = real_l1(*args, **kwargs)
        return value * float("nan") if calls["n"] == 2 else value

    monkeypatch.setattr(p2p.F, "l1_loss", poisoned_l1)
    run = tmp_path / "r"
    cfg = cfg_for("train.max_steps=3", "train.on_nan=skip", "train.checkpoint_every=1", "train.keep_checkpoints=5")
    result = train(cfg, folder_data, run, progress=False)
    assert result.step == 3
    step = {n: ckpt.load_checkpoint(run / "checkpoints" / f"step_{n:07d}.pt") for n in (1, 2, 3)}

    def params(n: int, net: str) -> dict:
        return {k: v for k, v in step[n]["networks"][net].items() if "running" not in k and "num_batches" not in k}

    assert all(torch.equal(v, params(1, "G")[k]) for k, v in params(2, "G").items())  # skipped
    assert any(not torch.equal(v, params(1, "D")[k]) for k, v in params(2, "D").items())  # D still learned
    assert any(not torch.equal(v, params(2, "G")[k]) for k, v in params(3, "G").items())  # and G goes on after
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any(e["event"] == "nan" and e["step"] == 2 for e in events)


def test_corrupt_latest_falls_back_to_an_older_checkpoint(folder_data: Path, tmp_path: Path, capsys):
    run = tmp_path / "r"
    train(cfg_for("train.max_steps=4", "train.checkpoint_every=2"), folder_data, run, progress=False)
    latest = run / "checkpoints" / "latest.pt"
    data = bytearray(latest.read_bytes())
    latest.unlink()  # latest is a hard link to step_4: corrupt only this name
    latest.write_bytes(bytes(data[: len(data) // 2]))
    state, path = ckpt.load_resumable(run)
    assert path.name == "step_0000004.pt" and state["step"] == 4
    (run / "checkpoints" / "step_0000004.pt").write_bytes(b"garbage")
    state, path = ckpt.load_resumable(run)
    assert state["step"] == 2
    assert "checksum mismatch" in capsys.readouterr().err


def test_run_folder_contents(folder_data: Path, tmp_path: Path):
    run = tmp_path / "r"
    train(cfg_for("train.max_steps=4", "train.sample_every=2", "train.val_every=2", "train.checkpoint_every=2",
                  "train.keep_checkpoints=1"), folder_data, run, progress=False)
    names = sorted(p.name for p in (run / "checkpoints").glob("*.pt"))
    assert names == ["best.pt", "latest.pt", "step_0000004.pt"]  # older periodic ones pruned
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000000.png", "step_0000002.png", "step_0000004.png"]
    assert load_config(run / "config.toml").train.max_steps == 4
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    train_events = [e for e in events if e["event"] == "train"]
    assert {"loss_D", "loss_G_GAN", "loss_G_L1", "D_real", "D_fake", "lr_G"} <= set(train_events[0])
    assert [e["step"] for e in events if e["event"] == "val"] == [0, 2, 4]
    best = ckpt.load_checkpoint(run / "checkpoints" / "best.pt")
    assert "optimizers" not in best and best["config"]["train"]["max_steps"] == 4
    report = (run / "report.html").read_text()
    assert "samples/step_0000004.png" in report and "plots/losses_G.png" in report


def test_linear_schedule_matches_the_paper():
    cfg = load_config(None, ["train.n_epochs=100", "train.n_epochs_decay=100"]).train
    assert lr_factor(cfg, 0) == 1.0 and lr_factor(cfg, 99) == 1.0
    assert lr_factor(cfg, 100) == pytest.approx(1 - 1 / 101)
    assert lr_factor(cfg, 199) == pytest.approx(1 / 101)
    step = load_config(None, ["train.lr_policy=step", "train.lr_step_epochs=10"]).train
    assert lr_factor(step, 9) == 1.0 and lr_factor(step, 10) == pytest.approx(0.1)
    cosine = load_config(None, ["train.lr_policy=cosine", "train.n_epochs=5", "train.n_epochs_decay=5"]).train
    assert lr_factor(cosine, 0) == 1.0 and lr_factor(cosine, 5) == pytest.approx(0.5) and lr_factor(cosine, 10) == pytest.approx(0.0, abs=1e-12)


def test_learning_rate_follows_the_schedule_in_a_run(folder_data: Path, tmp_path: Path):
    # 5 training pairs (one held out), batch 2 -> 3 steps per epoch; 1 constant + 2 decay epochs.
    cfg = cfg_for("train.n_epochs=1", "train.n_epochs_decay=2")
    result = train(cfg, folder_data, tmp_path / "r", progress=False)
    assert result.step == 9
    events = [json.loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    lrs = {e["step"]: e["lr_G"] for e in events if e["event"] == "train"}
    assert lrs[1] == pytest.approx(2e-4) and lrs[4] == pytest.approx(2e-4 * 2 / 3) and lrs[7] == pytest.approx(2e-4 / 3)


def test_sigterm_finishes_the_step_and_saves(folder_data: Path, tmp_path: Path):
    """A real training process stopped by SIGTERM leaves a resumable checkpoint and says how to resume."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    run = tmp_path / "r"
    argv = [sys.executable, "-m", "pix2pix", "train", str(folder_data), "--out", str(run), "--no-progress"]
    for item in tiny_overrides(train__max_steps=100000, train__checkpoint_every=0, train__log_every=1):
        argv += ["--set", item]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    deadline = time.time() + 60
    while time.time() < deadline and not ((run / "log.jsonl").exists() and (run / "log.jsonl").read_text().count("train") >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "pix2pix train --resume" in out and "Traceback" not in err
    state = weights(run)
    assert state["step"] >= 3
    assert resume(run, [f"train.max_steps={state['step'] + 1}"], progress=False).step == state["step"] + 1


def test_a_run_folder_written_by_version_0_1_0_still_resumes_exactly(tmp_path: Path):
    """tests/data/run_v0.1.0 was written by the package at aa55075 (0.1.0): a 2-step run of the demo data and
    the same config trained straight to step 4 (fp32, 32 px, ngf 4). Resumed by today's code to step 4, it
    must land where 0.1.0 did. Equal on the machine that made it; other CPUs' fp32 kernels may round
    differently in the last bits, hence the tolerance (a lost RNG, optimizer or data position is far outside it)."""
    import shutil

    fixture = Path(__file__).parent / "data" / "run_v0.1.0"
    run = shutil.copytree(fixture / "resume_at_step_2", tmp_path / "run")
    resumed = resume(run, ["train.max_steps=4"], progress=False)
    assert resumed.step == 4 and resumed.status == "finished"
    got, expected = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt"), ckpt.load_checkpoint(fixture / "straight_to_step_4.pt")
    for name, weights in expected["networks"].items():
        for key, value in weights.items():
            assert torch.allclose(got["networks"][name][key].float(), value.float(), rtol=1e-4, atol=1e-6), f"{name}.{key}"
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines() if '"train"' in line]
    assert steps == [1, 2, 3, 4]


@pytest.mark.parametrize("name", method_names())
def test_every_progress_key_and_health_signal_of_a_method_is_a_loss_its_step_logs(name: str):
    """The progress bar and the monitor read the method's own names: each must be in what its step returns."""
    from pix2pix.methods import build_method, method_class
    from pix2pix.training.precision import Precision
    from pix2pix.training.trainer import _postfix

    cls = method_class(name)
    method = build_method(cfg_for(f"model.method={name}"), (3, 3), torch.device("cpu"))
    keys = ("input", "target") if cls.data_kind == "paired" else ("A", "B")
    torch.manual_seed(0)
    losses = method.train_step({k: torch.rand(2, 3, 64, 64) * 2 - 1 for k in keys}, Precision("fp32", torch.device("cpu")))
    named = set(cls.progress_keys) | {getattr(s, f) for s in cls.health_signals for f in ("d_real", "d_fake", "loss_d", "adversarial", "reconstruction")}
    assert named <= set(losses), f"{name} names values its step does not log: {sorted(named - set(losses))}"
    means = {k: float(v) for k, v in losses.items() if torch.as_tensor(v).numel() == 1}
    shown = _postfix(cls.progress_keys, means, 0.25)
    assert shown.split()[::2][:len(cls.progress_keys)] == list(cls.progress_keys.values()) and shown.endswith("val L1 0.2500")
