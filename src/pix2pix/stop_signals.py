"""Stop signals as schedulers, terminals and containers send them.

``timeout``, a batch scheduler's cancel, a container stop, a closed terminal
(SIGHUP) and Ctrl-C deliver their signal to every process of the job's process
group, not to the main process alone. So:

- DataLoader workers ignore the group's SIGINT, SIGTERM and SIGHUP
  (``ignore_in_worker``; a SIGTERM from their parent still ends them): the main
  process decides when to stop and shuts them down itself. A worker that died
  of the signal would otherwise crash the main process before it could save.
- Training turns the first stop signal into a request (``StopRequest``): the
  step finishes, a checkpoint is written, the command exits 130. The
  ``pix2pix`` command asks for this (``handle_signals=True``); a program that
  trains through the Python API keeps its own handlers unless it asks too.
- The other commands (``interrupt_on_stop``) turn SIGTERM and SIGHUP into the
  KeyboardInterrupt that Ctrl-C already raises: files are written through a
  temp file and a rename, so the interruption leaves finished files whole and
  no half-written ones.

One signal often arrives twice (the group's copy and the one a launcher such
as torchrun forwards): a repeat within ``REPEAT_WINDOW_S`` counts as the same
request. A second Ctrl-C after that aborts at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
REPEAT_WINDOW_S = 2.0


def ignore_in_worker(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: leave stop signals sent to the whole group to the main process.

    SIGINT and SIGHUP are ignored. SIGTERM is taken by a thread that reads who sent it: from the
    parent (its DataLoader or multiprocessing shutting the worker down, e.g. at exit) it ends the
    worker as usual; from anyone else (``timeout``, a scheduler, ``kill -TERM -PGID``) the main
    process got the same signal and will stop the workers itself once it has saved.
    """
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if not hasattr(signal, "sigwaitinfo"):  # no siginfo here (macOS): SIGTERM keeps its default
        return
    parent = os.getppid()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # its default (ending the process) once let through
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # ... but held for the thread below

    def sort_sigterm() -> None:
        while True:
            info = signal.sigwaitinfo({signal.SIGTERM})
            if info.si_pid == parent or os.getppid() != parent:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                os.kill(os.getpid(), signal.SIGTERM)  # die of it, as the parent expects

    threading.Thread(target=sort_sigterm, name="sigterm-from-parent", daemon=True).start()


def detach_closed_terminal() -> None:
    """After SIGHUP the terminal is gone and writing to it fails (EIO): point the standard
    streams that were a terminal at /dev/null, so the shutdown can still print."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for fd in (1, 2):
        try:
            if os.isatty(fd):
                os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


def _install(handler: Any) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    for sig in STOP_SIGNALS:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread, or no such signal here
            pass
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass


class StopRequest:
    """Records the first stop signal; the training loop polls ``requested``."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._at = 0.0
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def __enter__(self) -> "StopRequest":
        self._previous = _install(self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGHUP:
            detach_closed_terminal()
        now = time.monotonic()
        if self.signal is not None:
            if signum == signal.SIGINT and now - self._at > REPEAT_WINDOW_S:
                raise KeyboardInterrupt
            return
        self.signal, self._at = signum, now
        try:
            print(f"\n{signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
                  "(press Ctrl-C again to abort without saving)", file=sys.stderr, flush=True)
        except OSError:
            pass

    def __exit__(self, *exc: Any) -> None:
        _restore(self._previous)


class NoStopRequest:
    """For library callers that keep their own signal handling: nothing installed, never requested."""

    requested = False

    def __enter__(self) -> "NoStopRequest":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


@contextmanager
def interrupt_on_stop() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt like SIGINT does, once; repeats are ignored."""
    fired = False

    def handle(signum: int, frame: Any) -> None:
        nonlocal fired
        if signum == signal.SIGHUP:
            detach_closed_terminal()
        if fired:
            return
        fired = True
        raise KeyboardInterrupt

    previous = _install(handle)
    try:
        yield
    finally:
        _restore(previous)
