"""One training process per run folder.

The lock is ``flock(2)`` on ``RUN/.lock``: the kernel drops it when the holding
process ends in any way (exit, crash, SIGKILL), so a lock can never outlive its
holder; the file's text (pid, host, start time, command) only names the holder
for the error message. Text left behind by a holder that died without cleaning
up is reported in a warning when the next run takes the lock.

- Containers on one host share the kernel, so the lock works across them for a
  run folder they both mount (the pid shown is the holder's in its own pid
  namespace; the host name tells which container).
- NFS: Linux clients implement flock as an NFS byte-range lock (NLM for v3,
  built in for v4), so it holds across machines when the server supports
  locking. Where the file system refuses locks (ENOLCK, some FUSE mounts) the
  run goes ahead unlocked with a warning.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, shown

LOCK_NAME = ".lock"


class RunInUse(ConfigError):
    """Another process is training into the same run folder."""


class RunLock:
    """Exclusive lock on a run folder for as long as training writes into it."""

    def __init__(self, run: Path) -> None:
        self.path = Path(run) / LOCK_NAME
        self._fd: int | None = None
        self._made_folder = False

    def acquire(self) -> "RunLock":
        self._made_folder = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            os.close(fd)
            raise RunInUse(f"{shown(self.path.parent)} is in use by {holder}; wait for it to finish, "
                           "stop it, or choose another run folder") from None
        except OSError as exc:  # no locking on this file system
            print(f"warning: cannot lock {shown(self.path)} ({exc.strerror}); nothing stops a second "
                  "process from training into this run folder at the same time", file=sys.stderr)
            self._fd = fd
            return self
        left = _read(fd)
        if left:
            print(f"warning: took over the lock of {_describe(left)}, which ended without releasing it",
                  file=sys.stderr)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                "command": " ".join(sys.argv[:6])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # an empty file: released cleanly
        except OSError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.release()
        if exc_type is not None and self._made_folder:
            self._remove_if_empty()

    def _remove_if_empty(self) -> None:
        """A run that failed before writing anything (a refused option) leaves no folder behind, so
        the user's next try with the same ``--out`` starts fresh instead of finding a stray run."""
        folder = self.path.parent
        try:
            if [p.name for p in folder.iterdir()] == [LOCK_NAME]:
                self.path.unlink()
                folder.rmdir()
        except OSError:
            pass


def _read(fd: int) -> dict[str, Any] | None:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return {"pid": "?"}


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process"
    text = f"process {info.get('pid', '?')}"
    if info.get("host"):
        text += f" on {info['host']}"
    if info.get("started"):
        text += f" (started {info['started']}"
        text += f": {info['command']})" if info.get("command") else ")"
    return text
