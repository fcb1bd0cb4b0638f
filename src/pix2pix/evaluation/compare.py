"""``pix2pix compare RUN1 RUN2 ...``: config differences and results side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import Config, read_toml
from ..errors import CheckpointError, shown
from ..runs.checkpoints import RunPaths
from ..runs.logs import read_log


def _run_summary(run: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    paths = RunPaths(run)
    if not paths.config.exists():
        raise CheckpointError(f"{shown(run)}: not a run folder (no config.toml)")
    saved = Config.from_saved(read_toml(paths.config))  # a run's own file: old names read without a notice
    flat = {f"{s}.{k}": v for s, values in saved.to_dict().items() for k, v in values.items()}
    results: dict[str, Any] = {}
    events = read_log(paths.log)
    steps = [e["step"] for e in events if e.get("event") == "train"]
    if steps:
        results["steps"] = max(steps)
    vals = [e["val_L1"] for e in events if e.get("event") == "val" and isinstance(e.get("val_L1"), (int, float))]
    if vals:
        results["val_L1 (last)"] = vals[-1]
        results["val_L1 (best)"] = min(vals)
    results["health warnings"] = sum(1 for e in events if e.get("event") == "health")
    for metrics_file in sorted(paths.results.glob("*/metrics.json")) if paths.results.is_dir() else []:
        try:
            data = json.loads(metrics_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        split = metrics_file.parent.name
        means = data.get("mean") or {f"{d}_{k}": v for d, e in data.get("directions", {}).items() for k, v in e.get("mean", {}).items()}
        for key, value in means.items():
            results[f"{split} {key}"] = value
    return flat, results


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def compare_runs(runs: list[str | Path]) -> list[str]:
    """Lines of text: the config keys whose values differ, then every result, one column per run."""
    summaries = [_run_summary(Path(r)) for r in runs]
    names = [Path(r).name or str(r) for r in runs]
    configs = [c for c, _ in summaries]
    differing = [k for k in configs[0] if len({repr(c.get(k)) for c in configs}) > 1]
    result_keys: list[str] = []
    for _, results in summaries:
        result_keys += [k for k in results if k not in result_keys]
    rows = [["", *names]]
    rows.append(["config (differences only)", *([""] * len(names))])
    if differing:
        rows += [[f"  {k}", *(_cell(c.get(k)) for c in configs)] for k in differing]
    else:
        rows.append(["  (identical configs)", *([""] * len(names))])
    rows.append(["results", *([""] * len(names))])
    rows += [[f"  {k}", *(_cell(r.get(k, "-")) for _, r in summaries)] for k in result_keys]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
