"""The command line as a new user meets it: acceptance runs, exit codes, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, make_folder_dataset, save, tiny_overrides


def sets(*extra: str, **kw) -> list[str]:
    out = []
    for item in tiny_overrides(**kw) + list(extra):
        out += ["--set", item]
    return out


@pytest.mark.slow
def test_facades_acceptance(facades: Path, tmp_path: Path, cli):
    run = tmp_path / "R"
    r = cli("check-data", facades)
    assert r.code == 0 and "split train: 11 pairs" in r.out and "split test: 11 pairs" in r.out and ".DS_Store" in r.out
    r = cli("train", facades, "--out", run, "--no-progress", "--set", "data.direction=BtoA", "--set", "data.load_size=72",
            "--set", "data.crop_size=64", "--set", "train.max_steps=20", "--set", "model.ngf=16", "--set", "model.ndf=16")
    assert r.code == 0, r.err
    assert "done: step 20" in r.out and (run / "checkpoints" / "latest.pt").exists()
    r = cli("test", run, facades, "--no-progress")
    assert r.code == 0, r.err
    metrics = json.loads((run / "results" / "test" / "metrics.json").read_text())
    assert metrics["count"] == 11 and 0 < metrics["mean"]["L1"] < 1
    assert {"L1", "MSE", "PSNR", "SSIM"} <= set(metrics["mean"])
    assert set(metrics["realism"]) == {"detail_2px", "detail_4px", "detail_8px", "detail_16px", "grid_2px", "grid_4px",
                                       "grid_8px", "grid_16px", "grid_32px"}  # tested at the photos' own 256 px
    assert 0 < metrics["realism"]["detail_2px"] < 5 and "grid artifacts (0 = the targets')" in r.out
    page = (run / "results" / "test" / "index.html").read_text()
    assert page.count("<img") == 33 and "<h2>Realism</h2>" in page and "detail_16px" in page
    r = cli("train", "--resume", run, "--set", "train.max_steps=30", "--no-progress")
    assert r.code == 0, r.err
    assert "done: step 30" in r.out
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines() if '"train"' in line]
    assert steps == [10, 20, 30]  # log_every 10; the resumed run continued at 21


def test_translate_any_size_keeps_names(folder_data: Path, tmp_path: Path, cli):
    run = tmp_path / "run"
    assert cli("train", folder_data, "--out", run, "--no-progress", *sets("train.max_steps=2")).code == 0
    images = tmp_path / "in"
    save(np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8), images / "img.png")
    save(np.full((17, 9, 1), 100, np.uint8), images / "grey.jpg")
    (images / ".DS_Store").write_bytes(b"\0\1")
    r = cli("translate", run, images, "--out", tmp_path / "o")
    assert r.code == 0, r.err
    assert Image.open(tmp_path / "o" / "img.png").size == (300, 200)
    assert Image.open(tmp_path / "o" / "grey.png").size == (9, 17)
    for scale in ("native", "train"):
        r = cli("translate", run, images / "img.png", "--out", tmp_path / scale, "--scale", scale, "--norm", "eval")
        assert r.code == 0 and Image.open(tmp_path / scale / "img.png").size == (300, 200)
    (images / "bad.png").write_text("not an image")
    r = cli("translate", run, images, "--out", tmp_path / "o2")
    assert r.code == 1 and "bad.png" in r.err
    assert (tmp_path / "o2" / "img.png").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check-data", "{tmp}/missing"], "dataset folder not found"),
        (["check-data", "{tmp}/empty"], "no images found"),
        (["train", "{data}", "--out", "{tmp}/r", "--set", "train.batch_size=0"], "train.batch_size"),
        (["train", "{data}", "--out", "{tmp}/r", "--set", "model.generator=unet_1024"], "unknown generator"),
        (["train", "{data}", "--out", "{tmp}/r", "--set", "nope=1"], "section.key=value"),
        (["train", "{tmp}/empty", "--out", "{tmp}/r"], "no images found"),
        (["train", "--resume", "{tmp}/missing"], "run folder not found"),
        (["train", "{data}"], "needs DATA and --out"),
        (["test", "{tmp}/missing", "{data}"], "no such run folder"),
        (["translate", "{tmp}/missing", "x.png", "--out", "{tmp}/o"], "no such run folder"),
        (["train", "{data}", "--out", "{tmp}/r", "--config", "{tmp}/none.toml"], "config file not found"),
    ],
)
def test_user_errors_are_one_line(folder_data: Path, tmp_path: Path, cli, argv, message):
    (tmp_path / "empty").mkdir()
    argv = [a.format(tmp=tmp_path, data=folder_data) for a in argv]
    r = cli(*argv)
    assert r.code == 2, (r.out, r.err)
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.err
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_no_usable_pairs_exits_nonzero(tmp_path: Path, cli):
    root = make_folder_dataset(tmp_path / "d", {"train": 2})
    for f in (root / "trainB").iterdir():
        f.unlink()
    r = cli("check-data", root)
    assert r.code == 1 and "no partner" in r.out and "no usable pairs" in r.err


def test_subprocess_entry_points(tmp_path: Path):
    """The installed console script and python -m both work and map errors to exit codes."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    r = subprocess.run([sys.executable, "-m", "pix2pix", "check-data", str(tmp_path / "nope")], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "pix2pix", "--version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "pix2pix" in r.stdout


def test_report_command(folder_data: Path, tmp_path: Path, cli):
    run = tmp_path / "run"
    assert cli("train", folder_data, "--out", run, "--no-progress", *sets("train.max_steps=2")).code == 0
    (run / "report.html").unlink()
    r = cli("report", run)
    assert r.code == 0 and (run / "report.html").exists()
    assert cli("report", tmp_path).code == 2


def test_no_progress_silences_the_data_decoding_bars_too(tmp_path: Path, cli):
    from conftest import make_folder_dataset, tiny_overrides

    data = make_folder_dataset(tmp_path / "data", {"train": 60}, size=32)  # >= 50 files: decoding shows a bar
    sets = [a for item in tiny_overrides(train__max_steps=1) for a in ("--set", item)]
    quiet = cli("train", data, "--out", tmp_path / "quiet", "--no-progress", *sets)
    assert quiet.code == 0, quiet.err
    assert "decoding" not in quiet.err and "it/s" not in quiet.err and "item/s" not in quiet.err, quiet.err[-500:]
    shown = cli("train", data, "--out", tmp_path / "shown", *sets)
    assert shown.code == 0 and "decoding train" in shown.err  # the bar is there without --no-progress
