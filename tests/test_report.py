"""Reports and evaluation commands on a real tiny run, checked in a real browser."""

import json
from pathlib import Path

import numpy as np
import pytest

from pix2pix.api import train

from browser import browser_page
from conftest import save, tiny_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    from conftest import make_folder_dataset

    data = make_folder_dataset(root / "data", {"train": 6, "test": 3})
    cfg = tiny_config("train.max_steps=6", "train.sample_every=3", "train.val_every=3", "train.log_every=2")
    train(cfg, data, root / "run", progress=False)
    return root / "run"


def test_report_images_all_load_in_chromium(tiny_run: Path, tmp_path: Path):
    report = tiny_run / "report.html"
    html = report.read_text()
    for plot in ("losses_D", "losses_G", "d_outputs", "lr", "val_l1"):
        assert f"plots/{plot}.png" in html
    with browser_page() as page:
        page.goto(report.as_uri())
        images = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert len(images) >= 8  # 5 plots + 3 sample grids
    assert all(complete and width > 0 for _, complete, width in images), images


def test_evaluate_prints_metrics_and_writes_json(tmp_path: Path, cli):
    rng = np.random.default_rng(0)
    for i in range(3):
        target = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
        save(target, tmp_path / "t" / f"{i}_B.png")
        save(np.clip(target.astype(int) + 10, 0, 255).astype(np.uint8), tmp_path / "p" / f"{i}.png")
    r = cli("evaluate", "--pred", tmp_path / "p", "--target", tmp_path / "t", "--no-progress")
    assert r.code == 0, r.err
    assert "L1" in r.out and "PSNR" in r.out and "SSIM" in r.out and "mean" in r.out
    data = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert data["count"] == 3 and set(data["images"]) == {"0", "1", "2"}
    assert data["mean"]["L1"] == pytest.approx(10 / 255, abs=2e-3)
    # a constant shift has no spectral power: the outputs keep the targets' detail and no grid
    assert data["realism"]["detail_2px"] == pytest.approx(1.0, abs=0.05) and abs(data["realism"]["grid_2px"]) < 0.05
    assert "detail (1 = the targets')" in r.out


def test_evaluate_fid_without_weights_is_one_line(tmp_path: Path, cli, monkeypatch):
    monkeypatch.delenv("PIX2PIX_FID_WEIGHTS", raising=False)
    save(np.zeros((16, 16, 3), np.uint8), tmp_path / "p" / "0.png")
    save(np.zeros((16, 16, 3), np.uint8), tmp_path / "t" / "0.png")
    r = cli("evaluate", "--pred", tmp_path / "p", "--target", tmp_path / "t", "--fid")
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "pt_inception-2015-12-05-6726825d.pth" in lines[0]
    assert not (tmp_path / "p" / "metrics.json").exists()


def test_evaluate_segmentation_palette(tmp_path: Path, cli):
    label = np.zeros((16, 16, 3), np.uint8)
    label[:, :8] = (1, 1, 220)
    label[:, 8:] = (242, 4, 12)
    save(label, tmp_path / "t" / "x.png")
    save(label, tmp_path / "p" / "x.png")
    r = cli("evaluate", "--pred", tmp_path / "p", "--target", tmp_path / "t", "--palette", "facades", "--no-progress")
    assert r.code == 0 and "pixel accuracy 1.0000" in r.out and "mean IoU 1.0000" in r.out


def test_compare_shows_config_differences_and_results(tiny_run: Path, tmp_path: Path, cli):
    from pix2pix.config import load_config

    other = tmp_path / "other"
    other.mkdir()
    cfg = load_config(tiny_run / "config.toml", ["loss.lambda_l1=30"])
    from pix2pix.config import to_toml

    (other / "config.toml").write_text(to_toml(cfg))
    r = cli("compare", tiny_run, other)
    assert r.code == 0, r.err
    row = next(line for line in r.out.splitlines() if "loss.lambda_l1" in line)
    assert row.split()[1:] == ["100", "30"]
    assert "model.ngf" not in r.out  # identical keys are left out
    assert "val_L1 (best)" in r.out


def test_tensorboard_scalars_and_images(tmp_path: Path):
    from conftest import make_folder_dataset
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = make_folder_dataset(tmp_path / "data", {"train": 4})
    cfg = tiny_config("train.max_steps=2", "train.sample_every=2", "train.tensorboard=true")
    train(cfg, data, tmp_path / "run", progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert "train/loss_G_L1" in events.Tags()["scalars"] and "val/val_L1" in events.Tags()["scalars"]
    assert "samples" in events.Tags()["images"]


def test_writing_a_report_leaves_the_callers_matplotlib_backend_alone(tiny_run: Path):
    """A notebook's backend must not be switched under the user by train()'s report."""
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot\n"
            "from pix2pix.evaluation.report import write_run_report\n"
            f"write_run_report({str(tiny_run)!r})\n"
            "print(matplotlib.get_backend(), 'pyplot' in __import__('sys').modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[0] == "svg"
    assert (tiny_run / "plots" / "losses_G.png").stat().st_size > 1000
