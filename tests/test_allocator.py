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


def test_importing_and_training_code_do_not_change_the_setting():
    from pix2pix import allocator
    import pix2pix.training.trainer  # noqa: F401

    allocator.restore_defaults()
    assert not allocator.is_keeping_freed_memory()
