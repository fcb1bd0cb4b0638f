"""Where a run reports: log.jsonl (one JSON object per line), TensorBoard, the progress bar."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..errors import require


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Inf; keep them visible as strings
    return value


class RunLogger:
    """Appends events to log.jsonl; mirrors scalars to TensorBoard when enabled."""

    def __init__(self, path: Path, tensorboard_dir: Path | None = None, enabled: bool = True) -> None:
        self.path, self.enabled = path, enabled
        self._tb = None
        if enabled and tensorboard_dir is not None:
            module = require("torch.utils.tensorboard", "logging", "train.tensorboard=true")
            self._tb = module.SummaryWriter(str(tensorboard_dir))

    def log(self, event: str, step: int, **values: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, "step": step, "time": round(time.time(), 3)}
        record.update({k: _plain(v) for k, v in values.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    self._tb.add_scalar(f"{event}/{key}", value, step)

    def image(self, tag: str, step: int, array: Any) -> None:
        """(H, W, 3) uint8 image to TensorBoard (log.jsonl keeps only the file name)."""
        if self._tb is not None:
            self._tb.add_image(tag, array, step, dataformats="HWC")

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()


def progress_bar(total: int, initial: int, enabled: bool) -> tqdm:
    return tqdm(
        total=total, initial=initial, unit="step", dynamic_ncols=True, file=sys.stderr, disable=not enabled,
        desc="train", smoothing=0.05,
    )
