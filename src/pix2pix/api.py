"""Training as the command and the Python API offer it: the trainer with the run's HTML report kept up to date.

``pix2pix.training`` knows nothing of reports (it sits below evaluation); this
module joins the two, for ``pix2pix train`` and ``from pix2pix import train``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Config
from .evaluation.report import write_run_report
from .training import trainer
from .training.trainer import TrainResult


def train(config: Config, data: str | Path, out: str | Path, **options: Any) -> TrainResult:
    """``pix2pix.training.trainer.train`` (same arguments: ``init_from``, ``progress``), with
    ``out/report.html`` kept up to date."""
    return trainer.train(config, data, out, report=write_run_report, **options)


def resume(run: str | Path, overrides: list[str] | None = None, **options: Any) -> TrainResult:
    """``pix2pix.training.trainer.resume`` (same arguments: ``data``, ``progress``), with the run's
    report kept up to date."""
    return trainer.resume(run, overrides, report=write_run_report, **options)
