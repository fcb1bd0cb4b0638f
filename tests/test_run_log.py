"""A resumed run rewrites its log.jsonl without the steps it will redo, and a stop mid-rewrite loses nothing."""

import json
import os
from pathlib import Path

import pytest

from pix2pix.runs.logs import read_log, truncate_log


def _log(path: Path, steps: range) -> None:
    path.write_text("".join(json.dumps({"step": s, "loss": s / 10}) + "\n" for s in steps), encoding="utf-8")


def test_truncate_keeps_the_steps_up_to_the_checkpoint(tmp_path: Path):
    log = tmp_path / "log.jsonl"
    _log(log, range(1, 6))
    truncate_log(log, 3)
    assert [e["step"] for e in read_log(log)] == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["log.jsonl"]


def test_a_stop_during_the_rewrite_keeps_the_old_log_and_leaves_no_temp(tmp_path: Path, monkeypatch):
    log = tmp_path / "log.jsonl"
    _log(log, range(1, 6))
    before = log.read_bytes()

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        truncate_log(log, 3)
    monkeypatch.undo()
    assert log.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["log.jsonl"]
