"""``pix2pix test``: translate a split of a dataset, score it, and write a page of results."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..data.io import atomic_write, convert_channels, write_image
from ..data.sources import PairSource, open_pairs, summarize_problems
from ..errors import DataError, shown
from ..inference import Translator
from ..training.checkpoint import RunPaths
from .html import esc, fmt, page, rel, table
from .metrics import image_metrics, mean_metrics


@dataclass
class TestResult:
    folder: Path
    count: int
    mean: dict[str, float]


def translate_pairs(translator: Translator, source: PairSource, direction: str, limit: int | None = None, batch_size: int = 8, progress: bool = True):  # noqa: ANN201
    """Yield (key, input, output, target) for each pair of ``source``, at the pair's own size."""
    count = len(source) if limit is None else min(limit, len(source))
    bar = tqdm(total=count, desc="test", unit="img", disable=not progress, file=sys.stderr, leave=False)
    for start in range(0, count, batch_size):
        chunk = range(start, min(count, start + batch_size))
        pairs = [source.load(i) for i in chunk]
        pairs = [(b, a) if direction == "BtoA" else (a, b) for a, b in pairs]
        outputs = translator.translate_arrays([inp for inp, _ in pairs], batch_size)
        for i, (inp, target), out in zip(chunk, pairs, outputs):
            yield source.key(i), inp, out, convert_channels(target, out.shape[2])
        bar.update(len(chunk))
    bar.close()


def run_test(
    run: str | Path,
    data: str | Path,
    split: str = "test",
    *,
    which: str = "best",
    out: str | Path | None = None,
    norm: str | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> TestResult:
    """Translate every pair of ``split``; write images, metrics.json and index.html.

    Returns the mean metrics (L1 and MSE on the 0-1 scale, PSNR in dB, SSIM).
    """
    translator = Translator.from_checkpoint(run, which=which, norm=norm)
    cfg = translator.model.config
    source = open_pairs(data, split, cfg.data)
    message = summarize_problems(source, data)
    if message:
        print(message, file=sys.stderr)
    if len(source) == 0:
        raise DataError(f"{shown(data)}: split '{split}' has no usable pairs")
    folder = Path(out) if out else RunPaths(Path(run)).results / split
    images = folder / "images"
    rows: list[dict[str, Any]] = []
    for key, inp, output, target in translate_pairs(translator, source, cfg.data.direction, limit, progress=progress):
        files = {}
        for kind, array in (("input", inp), ("output", output), ("target", target)):
            files[kind] = write_image(array, images / f"{key}_{kind}.png")
        rows.append({"key": key, "files": files, "metrics": image_metrics(output, target)})
    mean = mean_metrics([r["metrics"] for r in rows])
    report = {
        "split": split,
        "data": str(data),
        "checkpoint": str(translator.model.path),
        "step": translator.model.step,
        "inference": {"norm": translator.norm, "seed": translator.seed, "scale": translator.scale},
        "count": len(rows),
        "mean": mean,
        "images": {r["key"]: r["metrics"] for r in rows},
    }
    atomic_write(folder / "metrics.json", lambda fh: fh.write(json.dumps(report, indent=2) + "\n"), mode="w")
    write_results_page(folder, f"{Path(run).name}: {split} split", rows, mean, report)
    return TestResult(folder, len(rows), mean)


def write_results_page(folder: Path, title: str, rows: list[dict[str, Any]], mean: dict[str, float], info: dict[str, Any]) -> Path:
    """index.html with every image's input | output | target and its metrics."""
    columns = list(rows[0]["files"]) if rows else []
    metric_names = sorted({k for r in rows for k in r["metrics"]})
    body = [f"<h1>{esc(title)}</h1>"]
    body.append(f"<p>checkpoint {esc(info.get('checkpoint'))} (step {esc(info.get('step'))}), "
                f"inference {esc(info.get('inference'))}, {len(rows)} images</p>")
    body.append("<h2>Mean metrics</h2>" + table(["metric", "mean"], [[k, fmt(v)] for k, v in mean.items()]))
    body.append("<h2>Images</h2>")
    header = ["name", *columns, *metric_names]
    table_rows = []
    for r in rows:
        cells = [esc(r["key"])]
        cells += [f"<img src=\"{rel(r['files'][c], folder)}\" alt=\"{esc(r['key'])} {c}\">" for c in columns]
        cells += [esc(fmt(r["metrics"].get(m, ""))) for m in metric_names]
        table_rows.append(cells)
    body.append(f"<div class=\"cells\">{table(header, table_rows, raw=True)}</div>")
    text = page(title, "\n".join(body))
    return atomic_write(folder / "index.html", lambda fh: fh.write(text), mode="w")


def mean_colour_baseline(train: PairSource, test: PairSource, direction: str, limit: int = 200) -> float:
    """L1 on ``test`` of a constant image in the mean target colour of ``train`` (a floor to beat)."""
    index = 0 if direction == "BtoA" else 1
    colours = []
    for i in range(min(limit, len(train))):
        target = train.load(i)[index]
        colours.append(target.reshape(-1, target.shape[2]).mean(axis=0))
    mean = np.mean(colours, axis=0)
    errors = []
    for i in range(len(test)):
        target = test.load(i)[index].astype(np.float64)
        errors.append(float(np.abs(target - np.round(mean)).mean() / 255.0))
    return float(np.mean(errors))
