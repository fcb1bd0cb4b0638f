"""The allocator setting: glibc keeps freed memory in the process only when asked, and gives it back after."""

import subprocess
import sys

import pytest

from conftest import REPO

PROBE = """
import sys
from pix2pix import allocator

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20

mode = sys.argv[1]
if mode in ("keep", "restore"):
    assert allocator.keep_freed_memory()
    assert allocator.is_keeping_freed_memory()
if mode == "restore":
    assert allocator.restore_defaults() and not allocator.is_keeping_freed_memory()
if mode == "train":  # everything a program does through the Python API: import, train, write the report
    import tempfile
    from pix2pix.api import train
    from pix2pix.config import load_config
    settings = ["data.demo_size=32", "data.crop_size=32", "data.load_size=36", "model.ngf=4", "model.ndf=4",
                "train.max_steps=2", "data.num_workers=0", "train.val_every=0", "train.sample_every=0"]
    train(load_config(None, settings), "demo:shapes", tempfile.mkdtemp() + "/run", progress=False)
before = rss_mb()
block = bytearray(200 * 2**20)  # 200 MB, touched: above glibc's mmap threshold
del block
print(rss_mb() - before)
"""


def _kept_after_free(mode: str) -> float:
    r = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                       env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    return float(r.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_freed_memory_stays_only_when_asked():
    assert _kept_after_free("default") < 50  # the library alone changes nothing: the block went back to the OS
    assert _kept_after_free("keep") > 150  # kept in the process for reuse
    assert _kept_after_free("restore") < 50  # and handed back again after restore_defaults()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_training_through_the_api_does_not_change_the_setting():
    """Only the pix2pix command may keep freed memory: a program that trains through the API gets its
    memory back as glibc's defaults give it (measured, in a fresh process, not read from a flag)."""
    assert _kept_after_free("train") < 50


def test_step_in_backward_auto_follows_the_runs_opt_in_not_what_the_process_did_before(folder_data, tmp_path):
    """The same call takes the same path: an earlier keep_freed_memory() in the process (the in-process
    CLI of other tests does it) does not turn train.step_in_backward=auto on for an API run that did not ask."""
    from pix2pix import allocator
    from pix2pix.training.run_folder import prepare_run_dir
    from pix2pix.training.trainer import Trainer

    from test_training import cfg_for

    kept_before = allocator.is_keeping_freed_memory()
    try:
        allocator.keep_freed_memory()
        paths = {}
        for asked in (False, True):
            run = tmp_path / f"asked_{asked}"
            prepare_run_dir(run)
            trainer = Trainer(cfg_for("train.step_in_backward=auto", "train.device=cpu"), folder_data, run,
                              progress=False, keep_freed_memory=asked)
            paths[asked] = trainer.precision.backward_steps is not None
            trainer.logger.close()
        assert paths == {False: False, True: True}
    finally:
        if not kept_before:
            allocator.restore_defaults()
