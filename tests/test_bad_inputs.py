"""The bad-input corpus through check-data, train, translate and the server.

Documented behaviour (docs/operations.md, "Faults and bad input"): images that can be read are normalised
(16-bit, palette, CMYK, EXIF rotation, alpha, grey among colour, 1x1, wrong
extension); files that cannot be used are left out with a warning naming them
(check-data lists every one); a path or option that cannot work is a one-line
error with a non-zero exit. Never a traceback, never a partial output file.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bad_inputs import BAD, GOOD, build_aligned_odd, build_dataset, single_files
from conftest import REPO, tiny_overrides


def sets(**extra) -> list[str]:
    return [a for item in tiny_overrides(**extra) for a in ("--set", item)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad") / "data"
    return root, build_dataset(root)


def test_check_data_lists_every_problem(corpus, cli):
    root, expected = corpus
    r = cli("check-data", root)
    assert r.code == 0, r.err  # usable pairs remain
    assert "Traceback" not in r.out + r.err
    for name, message in expected.items():
        line = next((line for line in r.out.splitlines() if name in line), None)
        assert line is not None and message in line, (name, message)
    assert "skipped 1 non-image file(s): .DS_Store" in r.out
    r.out.encode("utf-8")  # every line printable: the non-UTF-8 name is escaped, not a lone surrogate
    usable = int(r.out.split("split train: ")[1].split(" pairs")[0])
    assert usable == 3 + len(GOOD) + 1  # good pairs + every readable kind + the non-UTF-8 one
    assert "grey+RGB -> 3" in r.out  # grey and RGB mixed: converted to RGB


def test_training_leaves_bad_files_out_with_a_warning(corpus, tmp_path: Path, cli):
    root, expected = corpus
    r = cli("train", root, "--out", tmp_path / "run", "--no-progress", *sets(train__max_steps=2))
    assert r.code == 0, r.err
    assert "warning: left out" in r.err and "check-data" in r.err and "Traceback" not in r.err
    assert "done: step 2" in r.out


def test_aligned_file_with_odd_width(tmp_path: Path, cli):
    root = build_aligned_odd(tmp_path / "aligned")
    r = cli("check-data", root)
    assert r.code == 0 and "odd.png: A|B image has odd width 63" in r.out


def test_translate_skips_unreadable_files_and_writes_no_partial_output(tmp_path: Path, trained_run: Path, cli):
    inputs = tmp_path / "in"
    inputs.mkdir()
    files = single_files()
    for name, (data, suffix) in files.items():
        (inputs / f"{name}{suffix}").write_bytes(data)
    out = tmp_path / "out"
    r = cli("translate", trained_run, inputs, "--out", out)
    assert r.code == 1 and "Traceback" not in r.err
    for name in BAD:
        assert f"{name}" in r.err
        assert not (out / f"{name}.png").exists()
    for name in GOOD:
        assert (out / f"{name}.png").exists(), name
    assert Image.open(out / "exif_rotated.png").size == (40, 56)  # upright, as a viewer shows it
    assert Image.open(out / "one_pixel.png").size == (1, 1)
    assert not [p for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.mark.slow
def test_server_answers_every_bad_upload_with_json(trained_run: Path):
    import importlib.util

    from conftest import require_or_skip

    require_or_skip(importlib.util.find_spec("fastapi") is not None, "fastapi is not installed (pip install 'pix2pix[serve]')")
    from fastapi.testclient import TestClient

    from pix2pix.serve.app import create_app

    expected = {"truncated_jpeg": 400, "zero_bytes": 400, "text_named_png": 415, "decompression_bomb": 413}
    with TestClient(create_app(trained_run)) as client:
        for name, (data, _) in single_files().items():
            r = client.post("/translate", content=data)
            assert r.status_code == expected.get(name, 200), (name, r.status_code, r.text)
            if r.status_code != 200:
                assert "error" in r.json() and "Traceback" not in r.text
            else:
                assert Image.open(io.BytesIO(r.content)).format == "PNG"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check-data", "{tmp}/missing"], "not found"),
        (["check-data", "{tmp}/empty"], "no images found"),
        (["check-data", "{tmp}/file.txt"], "is a file"),
        (["train", "{tmp}/empty", "--out", "{tmp}/r"], "no images found"),
        (["train", "{data}", "--out", "{tmp}/r", "--config", "{tmp}"], "is a directory"),
        (["train", "{data}", "--out", "{tmp}/file.txt"], "is a file"),
        (["train", "{data}", "--out", "{tmp}/r", "--set", "train.lr_g=-1"], "train.lr_g"),
        (["train", "{data}", "--out", "{tmp}/r", "--set", "data.load_size=0"], "data.load_size"),
        (["train", "{data}", "--out", "{tmp}/r", "--set", "model.dropout=1.5"], "model.dropout"),
        (["translate", "{tmp}/r", "{tmp}/missing.png", "--out", "{tmp}/o"], "no such run folder"),
        (["test", "{tmp}", "{data}"], "no checkpoint found"),
    ],
)
def test_unusable_paths_and_options_are_one_line_errors(corpus, tmp_path: Path, cli, argv, message):
    root, _ = corpus
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    r = cli(*[a.format(tmp=tmp_path, data=root) for a in argv])
    assert r.code == 2, (r.out, r.err)
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.err


def test_exit_codes_through_the_real_command(tmp_path: Path):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for argv, code in ((["check-data", str(tmp_path / "nope")], 2), (["serve", "x", "--port", "70000"], 2),
                       (["evaluate", "--pred", str(tmp_path), "--target", str(tmp_path)], 2)):
        r = subprocess.run([sys.executable, "-m", "pix2pix", *argv], capture_output=True, text=True, env=env)
        assert r.returncode == code, (argv, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.strip()


def test_a_crop_too_small_for_the_multiscale_discriminator_is_one_line_naming_the_smallest_that_works(tmp_path: Path):
    sets = [a for item in tiny_overrides(data__num_workers=2, train__max_steps=2, model__num_d=2) for a in ("--set", item)]
    r = subprocess.run([sys.executable, "-m", "pix2pix", "train", "demo:shapes", "--out", str(tmp_path / "run"),
                        "--no-progress", *sets], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0, r.stderr[-2000:]  # no traceback, no DataLoader-worker traceback after it
    assert "data.crop_size 32 is too small" in r.stderr and "the smallest crop that works is 47" in r.stderr
    assert not (tmp_path / "run").exists()  # refused before writing anything
    sets = [a for item in tiny_overrides(data__num_workers=0, train__max_steps=1, model__num_d=2, data__crop_size=47,
                                         data__load_size=50) for a in ("--set", item)]
    r = subprocess.run([sys.executable, "-m", "pix2pix", "train", "demo:shapes", "--out", str(tmp_path / "ok"),
                        "--no-progress", *sets], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]  # the smallest crop named does train


def test_an_error_during_training_leaves_no_dataloader_worker_behind(tmp_path: Path, monkeypatch):
    """Workers still alive when the error reaches the command print their own traceback at exit."""
    import multiprocessing

    from pix2pix.api import train
    from pix2pix.config import load_config
    from pix2pix.errors import DataError
    from pix2pix.training.trainer import Trainer

    def failing(self, batch, total, stop_requested=False):  # noqa: ANN001, ANN202
        raise DataError("a user-caused error in the middle of training")

    monkeypatch.setattr(Trainer, "step_once", failing)
    cfg = load_config(None, tiny_overrides(data__num_workers=2, train__max_steps=3))
    with pytest.raises(DataError) as caught:
        train(cfg, "demo:shapes", tmp_path / "run", progress=False)
    assert caught.traceback  # the frames (and the loader in them) are still referenced here
    assert multiprocessing.active_children() == []
