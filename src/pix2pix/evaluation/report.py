"""``RUN/report.html``: what a run did, in pictures.

Loss curves, D(real)/D(fake), learning rate and validation L1 as PNG plots,
sample grids from early to late, health warnings with the step they appeared,
final metrics and the resolved config. Rebuilt from the run folder alone
(``pix2pix report RUN``), and refreshed during training.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..data.io import atomic_write
from ..errors import CheckpointError, MissingDependencyError, require, shown
from ..runs.checkpoints import RunPaths
from ..runs.logs import read_log
from .html import esc, fmt, page, rel, table

_LOSS_GROUPS = {
    "losses_D": ("Discriminator loss", lambda k: k.startswith("loss_D")),
    "losses_G": ("Generator losses", lambda k: k.startswith("loss_G") or k.startswith("loss_cycle") or k.startswith("loss_idt")),
    "d_outputs": ("D outputs on real and generated images", lambda k: k in ("D_real", "D_fake") or k.startswith("D_real_") or k.startswith("D_fake_")),
    "lr": ("Learning rate", lambda k: k.startswith("lr_")),
}


def _series(events: list[dict[str, Any]], event: str, accept: Any) -> dict[str, tuple[list[int], list[float]]]:
    series: dict[str, tuple[list[int], list[float]]] = {}
    for e in events:
        if e.get("event") != event:
            continue
        for key, value in e.items():
            if key in ("event", "step", "time", "epoch") or not accept(key):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                steps, values = series.setdefault(key, ([], []))
                steps.append(int(e["step"]))
                values.append(float(value))
    return series


def _plot(path: Path, title: str, series: dict[str, tuple[list[int], list[float]]], ylabel: str = "") -> Path:
    require("matplotlib", "plots", "report plots")
    from matplotlib.figure import Figure  # the object API: no pyplot, so the caller's backend is left alone

    fig = Figure(figsize=(6.4, 3.4), dpi=100)
    ax = fig.subplots()
    for label, (steps, values) in sorted(series.items()):
        ax.plot(steps, values, label=label, linewidth=1.2, marker="o" if len(steps) < 30 else None, markersize=3)
    ax.set_title(title)
    ax.set_xlabel("step")
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    return path


def _sample_files(folder: Path, limit: int = 8) -> list[Path]:
    found = sorted(folder.glob("step_*.png")) if folder.is_dir() else []
    if len(found) <= limit:
        return found
    picks = sorted({round(i * (len(found) - 1) / (limit - 1)) for i in range(limit)})
    return [found[i] for i in picks]


def _metrics_sections(results: Path, root: Path) -> str:
    parts = []
    for metrics_file in sorted(results.glob("*/metrics.json")) if results.is_dir() else []:
        try:
            data = json.loads(metrics_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for title, mean in _mean_tables(data):
            rows = [[k, fmt(v)] for k, v in mean.items()]
            link = metrics_file.parent / "index.html"
            href = f' (<a href="{rel(link, root)}">images</a>)' if link.exists() else ""
            parts.append(f"<p>{esc(title)}{href}</p>" + table(["metric", "mean"], rows))
    return "".join(parts)


def _mean_tables(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    split = data.get("split", "?")
    if "directions" in data:  # CycleGAN: one table per direction
        return [(f"split {split}, {d}: {v.get('count', '?')} images", v.get("mean", {})) for d, v in data["directions"].items()]
    return [(f"split {split}: {data.get('count', '?')} images, checkpoint step {data.get('step', '?')}", data.get("mean", {}))]


def write_run_report(run: str | Path) -> Path:
    """(Re)build ``RUN/report.html`` from what the run folder holds."""
    paths = RunPaths(Path(run))
    root = paths.root
    if not paths.config.exists():
        raise CheckpointError(f"{shown(root)}: not a run folder (no config.toml)")
    events = read_log(paths.log)
    train_events = [e for e in events if e.get("event") == "train"]
    last = train_events[-1] if train_events else {}
    meta: dict[str, Any] = {}
    if (root / "run.json").exists():
        try:
            meta = json.loads((root / "run.json").read_text())
        except json.JSONDecodeError:
            meta = {}

    body = [f"<h1>pix2pix run: {esc(root.name)}</h1>"]
    summary = [
        ["method", meta.get("method", "?")],
        ["data", meta.get("data", "?")],
        ["steps logged", last.get("step", 0)],
        ["epoch", last.get("epoch", "?")],
        ["package version", meta.get("version", "?")],
    ]
    body.append(table(["", ""], summary))

    health = [e for e in events if e.get("event") == "health"]
    body.append("<h2>Training health</h2>")
    if health:
        for e in health:
            body.append(f"<div class=\"warn\"><b>step {esc(e['step'])}: {esc(e.get('title', e.get('kind', '')))}</b><br>"
                        f"{esc(e.get('message', ''))}<br><i>{esc(e.get('suggestion', ''))}</i></div>")
    else:
        body.append("<p class=\"muted\">No health warnings logged.</p>")
    nans = [e for e in events if e.get("event") == "nan"]
    for e in nans:
        body.append(f"<div class=\"warn\"><b>step {esc(e['step'])}: non-finite loss</b> {esc(', '.join(e.get('losses', [])))}</div>")

    metrics_html = _metrics_sections(paths.results, root)
    if metrics_html:
        body.append("<h2>Final metrics</h2>" + metrics_html)

    body.append("<h2>Curves</h2>")
    try:
        figures = []
        plots = root / "plots"
        for name, (title, accept) in _LOSS_GROUPS.items():
            series = _series(events, "train", accept)
            if series:
                figures.append((_plot(plots / f"{name}.png", title, series), title))
        val = _series(events, "val", lambda k: k.startswith("val_"))
        if val:
            measure = next((e["measure"] for e in events if e.get("event") == "val" and "measure" in e), "L1")
            title = f"Validation {measure} (0-1 scale)"
            figures.append((_plot(plots / "val_l1.png", title, val), f"Validation {measure}"))
        if figures:
            body.append("<div class=\"grid\">" + "".join(
                f"<figure><img src=\"{rel(p, root)}\" alt=\"{esc(t)}\"><figcaption>{esc(t)}</figcaption></figure>"
                for p, t in figures) + "</div>")
        else:
            body.append("<p class=\"muted\">No training steps logged yet.</p>")
    except MissingDependencyError as exc:
        body.append(f"<p class=\"muted\">Plots unavailable: {esc(exc)}</p>")

    samples = _sample_files(paths.samples)
    body.append("<h2>Samples (input | output | target), early to late</h2>")
    if samples:
        for path in samples:
            step = int(re.sub(r"\D", "", path.stem) or 0)
            body.append(f"<figure><figcaption>step {step}</figcaption><img src=\"{rel(path, root)}\" alt=\"samples at step {step}\"></figure>")
    else:
        body.append("<p class=\"muted\">No samples yet.</p>")

    body.append("<h2>Configuration</h2>")
    body.append(f"<pre>{esc(paths.config.read_text(errors='replace'))}</pre>")
    html_text = page(f"pix2pix report: {root.name}", "\n".join(body))
    return atomic_write(paths.report, lambda fh: fh.write(html_text), mode="w")
