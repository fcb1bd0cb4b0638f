"""``pix2pix train --nproc N``: torchrun on this machine, with stop signals passed on.

torchrun answers a stop signal by raising an exception in itself (a traceback,
exit 1) after signalling its workers, and is left running when its parent dies.
So the launcher starts torchrun in a session of its own, tied to the launcher's
life (``PR_SET_PDEATHSIG``), catches SIGINT / SIGTERM / SIGHUP itself and sends
SIGTERM to the training processes directly: each finishes its step, rank 0
checkpoints, they exit cleanly, torchrun ends normally, and the launcher exits
130 like a single-process run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from .stop_signals import STOP_SIGNALS, detach_closed_terminal

# Set for the training processes: a requested stop exits 0 so that torchrun ends
# quietly; the launcher, which saw the signal, reports it (exit 130).
LAUNCHED_ENV = "PIX2PIX_LAUNCHED"


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N -m pix2pix ARGV`` without --nproc."""
    rest, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        if item == "--nproc":
            skip = True
            continue
        if item.startswith("--nproc="):
            continue
        rest.append(item)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "pix2pix", *rest]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the launcher dies, however it dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc; empty where there is none)."""
    children = []
    proc = Path("/proc")
    if not proc.is_dir():
        return children
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        if len(fields) > 1 and fields[1] == str(pid):
            children.append(int(entry.name))
    return children


def launch(nproc: int, argv: list[str]) -> int:
    """Run torchrun until it ends; 130 if a stop signal came, else torchrun's exit code."""
    env = dict(os.environ, **{LAUNCHED_ENV: "1"})
    proc = subprocess.Popen(torchrun_command(nproc, argv), env=env, start_new_session=True,
                            preexec_fn=_die_with_parent)
    received: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        if signum == signal.SIGHUP:
            detach_closed_terminal()
        if received:
            return
        received.append(signum)
        workers = child_pids(proc.pid)
        for pid in workers or [proc.pid]:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 130 if received else code
