"""Training as the command and the Python API offer it: the trainer with the run's HTML report kept up to date.

``pix2pix.training`` knows nothing of reports (it sits below evaluation); this
module joins the two, for ``pix2pix train`` and ``from pix2pix import train``.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .evaluation.report import write_run_report
from .training import trainer
from .training.trainer import TrainResult


def train(
    config: Config,
    data: str | Path,
    out: str | Path,
    *,
    init_from: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a new run into ``out`` (see ``pix2pix.training.trainer.train``), writing ``out/report.html``.

    Args:
        config: the full configuration (see ``pix2pix.config``).
        data: dataset folder or ``demo:shapes``.
        out: run folder to create.
        init_from: run folder or checkpoint whose network weights start this run (fine-tuning).
    """
    return trainer.train(config, data, out, init_from=init_from, progress=progress, report=write_run_report)


def resume(
    run: str | Path,
    overrides: list[str] | None = None,
    *,
    data: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Continue a run exactly where it stopped (see ``pix2pix.training.trainer.resume``), keeping its report.

    Args:
        overrides: ``section.key=value`` changes; only the stopping point and intervals may change.
        data: a new location for the dataset, if it moved.
    """
    return trainer.resume(run, overrides, data=data, progress=progress, report=write_run_report)
