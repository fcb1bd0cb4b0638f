"""The health monitor on synthetic histories: each diagnosis fires when it should, and only then."""

import numpy as np
import pytest

from pix2pix.methods import method_class
from pix2pix.training.monitor import HealthMonitor

CYCLEGAN_SIGNALS = method_class("cyclegan").health_signals
PAIRED_SIGNALS = method_class("pix2pix").health_signals

RNG = np.random.default_rng(0)


def healthy(step: int) -> dict[str, float]:
    noise = RNG.normal(0, 0.03)
    return {"D_real": 0.62 + noise, "D_fake": 0.35 - noise, "loss_D": 0.6 + noise, "loss_G_GAN": 1.1 + noise,
            "loss_G_L1": 30.0 * 0.995**step + 8}


def fingerprints(collapsed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    target = RNG.uniform(-1, 1, (1, 48))
    output = np.full((1, 48), 0.3) + (0 if collapsed else RNG.uniform(-0.8, 0.8, (1, 48)))
    return output, target


def run(monitor: HealthMonitor, history, steps: int = 300, collapsed: bool = False) -> list[tuple[int, str]]:
    fired = []
    for step in range(1, steps + 1):
        out, target = fingerprints(collapsed and step > 40)
        for diagnosis in monitor.update(history(step), out, target):
            fired.append((step, diagnosis.kind))
            assert diagnosis.message and diagnosis.suggestion and diagnosis.title
    return fired


def test_healthy_history_fires_nothing():
    for mode in ("vanilla", "lsgan"):
        assert run(HealthMonitor(mode, PAIRED_SIGNALS), healthy) == []


@pytest.mark.parametrize(
    "mode, real, fake, loss_d",
    [("vanilla", 0.97, 0.03, 0.03), ("lsgan", 0.95, 0.05, 0.003), ("hinge", 2.5, -2.0, 0.01), ("wgangp", 20.0, -15.0, -30.0)],
)
def test_d_saturation_per_gan_mode(mode, real, fake, loss_d):
    def history(step):
        values = healthy(step)
        if step > 80:
            values.update(D_real=real, D_fake=fake, loss_D=loss_d)
        return values

    fired = run(HealthMonitor(mode, PAIRED_SIGNALS), history)
    saturation = [step for step, kind in fired if kind == "d_saturation"]
    assert len(saturation) == 1 and 100 <= saturation[0] <= 140  # once, after about a window of it


def test_saturation_clears_and_can_fire_again():
    def history(step):
        values = healthy(step)
        if 80 < step <= 160 or step > 240:
            values.update(D_real=0.98, D_fake=0.02, loss_D=0.02)
        return values

    fired = [s for s, k in run(HealthMonitor("vanilla", PAIRED_SIGNALS), history, steps=400) if k == "d_saturation"]
    assert len(fired) == 2


def test_g_adversarial_loss_rising_while_l1_stalls():
    def history(step):
        values = healthy(step)
        values["loss_G_L1"] = 12.0
        if step > 100:
            values["loss_G_GAN"] = 1.0 + 0.03 * (step - 100)
        return values

    kinds = {k for _, k in run(HealthMonitor("vanilla", PAIRED_SIGNALS), history, steps=400)}
    assert "g_rising" in kinds
    assert "g_rising" not in {k for _, k in run(HealthMonitor("vanilla", PAIRED_SIGNALS), healthy, steps=400)}

    def bump(step):  # rises for a while then settles back: ordinary GAN dynamics, not a trend
        values = healthy(step)
        values["loss_G_L1"] = 12.0
        values["loss_G_GAN"] = 1.0 + 0.8 * max(0.0, 1 - abs(step - 180) / 80)  # up over 80 steps, down over 80
        return values

    assert "g_rising" not in {k for _, k in run(HealthMonitor("vanilla", PAIRED_SIGNALS), bump, steps=400)}


def test_l1_or_adversarial_term_dominating():
    blur = run(HealthMonitor("vanilla", PAIRED_SIGNALS), lambda s: {**healthy(s), "loss_G_L1": 400.0, "loss_G_GAN": 1.0})
    assert ("l1_dominates" in {k for _, k in blur}) and "adv_dominates" not in {k for _, k in blur}
    sharp = run(HealthMonitor("vanilla", PAIRED_SIGNALS), lambda s: {**healthy(s), "loss_G_L1": 0.0, "loss_G_GAN": 2.0})
    assert "adv_dominates" in {k for _, k in sharp}


def test_collapsed_outputs():
    assert "collapse" in {k for _, k in run(HealthMonitor("vanilla", PAIRED_SIGNALS), healthy, collapsed=True)}


def test_cyclegan_signals_name_the_discriminator():
    def history(step):
        values = {}
        for side, saturated in (("A", step > 60), ("B", False)):
            values.update({f"D_real_{side}": 0.05 if saturated else 0.5, f"D_fake_{side}": 0.95 if not saturated else 0.02,
                           f"loss_D_{side}": 0.001 if saturated else 0.25, f"loss_G_{side}": 0.5, f"loss_cycle_{side}": 3.0})
        values["D_real_A"] = 0.97 if step > 60 else 0.5
        return values

    monitor = HealthMonitor("lsgan", CYCLEGAN_SIGNALS)
    found = []
    for step in range(1, 300):
        found += monitor.update(history(step))
    assert [d.title for d in found] == ["D saturation (D_A, B side)"]
    assert "gan_mode=lsgan" not in found[0].suggestion  # never advise the loss already in use


def _demo_run(tmp_path, name, *extra):
    import json

    from pix2pix.config import load_config
    from pix2pix.api import train

    small = ["data.demo_size=64", "data.load_size=64", "data.crop_size=64", "model.ngf=16", "model.ndf=16",
             "data.num_workers=0", "train.max_steps=300", "train.val_every=0", "train.sample_every=0",
             "train.checkpoint_minutes=0", "train.seed=0"]
    train(load_config(None, small + list(extra)), "demo:shapes", tmp_path / name, progress=False)
    return [json.loads(line) for line in (tmp_path / name / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_demo_runs_saturation_fires_and_default_stays_quiet(tmp_path):
    """The acceptance runs at test scale (64 px, 16 filters): D overpowering G (lambda_l1 = 0,
    lr_d ten times lr_g, the paper's BCE loss) is reported from D's outputs within 300 steps; the
    default run is not."""
    healthy_run = _demo_run(tmp_path, "default")
    assert [e for e in healthy_run if e["event"] == "health"] == []
    saturated = _demo_run(tmp_path, "saturated", "loss.lambda_l1=0", "train.lr_g=0.00002", "loss.gan_mode=vanilla")
    kinds = {e["kind"] for e in saturated if e["event"] == "health"}
    assert "d_saturation" in kinds
    first = min(e["step"] for e in saturated if e["event"] == "health" and e["kind"] == "d_saturation")
    assert first <= 300
