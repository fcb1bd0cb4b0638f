"""Reading a run's log.jsonl (training writes it through ``training.logger.RunLogger``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..data.io import atomic_write


def read_log(path: Path) -> list[dict[str, Any]]:
    """All events of a log.jsonl (a torn last line from a crash is ignored)."""
    events = []
    if not path.exists():
        return events
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def truncate_log(path: Path, step: int) -> None:
    """Drop events after ``step`` (a resumed run rewrites them)."""
    if not path.exists():
        return
    kept = [e for e in read_log(path) if int(e.get("step", 0)) <= step]
    text = "".join(json.dumps(e) + "\n" for e in kept)
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))  # a stop mid-rewrite keeps the old log whole
