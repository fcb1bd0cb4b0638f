"""``pix2pix test``: translate a split of a dataset, score it, and write a page of results."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..data.io import atomic_write, convert_channels, write_image
from ..data.sources import PairSource, summarize_problems
from ..errors import ConfigError, DataError, shown
from ..data.layout import pair_key
from ..data.unpaired import open_unpaired, side_warning
from ..inference import LoadedModel, Translator, load_model
from ..data.photos import open_task_pairs, viewable_input
from ..methods import method_class
from .tasks import baselines, mean_training_colour, summarise, task_scores
from ..runs.checkpoints import RunPaths
from .html import esc, fmt, page, rel, table
from .fcn_score import FULL, SegmenterRecipe, fcn_reference_line, judge_for_data
from .realism import RealismAccumulator
from .sampling import DEFAULT_SAMPLES, sample_scores
from ..metrics import image_metrics, l1, mean_metrics


@dataclass
class TestResult:
    folder: Path
    count: int
    mean: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # photo tasks: name -> mean scores
    realism: dict[str, float] = field(default_factory=dict)  # whole split: detail per octave, grid artifacts, FCN-score
    fcn_reference: dict[str, Any] = field(default_factory=dict)  # the FCN-score judge: ceiling, blur drop, floor


def translate_pairs(translator: Translator, source: PairSource, direction: str, limit: int | None = None, batch_size: int = 8, progress: bool = True):  # noqa: ANN201
    """Yield (key, input, output, target) for each pair of ``source``, at the pair's own size."""
    count = len(source) if limit is None else min(limit, len(source))
    bar = tqdm(total=count, desc="test", unit="img", disable=not progress, file=sys.stderr, leave=False)
    for start in range(0, count, batch_size):
        chunk = range(start, min(count, start + batch_size))
        pairs = [source.load(i) for i in chunk]
        pairs = [(b, a) if direction == "BtoA" else (a, b) for a, b in pairs]
        outputs = translator.translate_arrays([inp for inp, _ in pairs], batch_size, prepared=True)
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
    precision: str | None = None,
    compile: bool | str | None = None,
    weights: str = "average",
    fcn_palette: str | None = None,
    fcn_recipe: SegmenterRecipe = FULL,
    fcn_cache: str | Path | None = None,
    samples: int | None = None,
    seed: int | None = None,
) -> TestResult:
    """Translate every pair of ``split``; write images, metrics.json and index.html.

    Returns the mean metrics (L1 and MSE on the 0-1 scale, PSNR in dB, SSIM).
    Unpaired methods are tested per direction (see ``run_unpaired_test``).

    Args:
        fcn_palette: for label maps -> photos, also the FCN-score: a segmenter trained on DATA's train
            split (cached) reads the outputs through this palette; the real photos give the ceiling.
        samples: also K sampled pictures per input, shown on the page and scored (``evaluation.sampling``:
            diversity, best of K, the target's own code; the realism measures over every sample). Default:
            8 for a model with a latent code, else none (0). ``seed``: the samples' (and dropout's) seed.
    """
    model = load_model(run, which, weights=weights)
    folder = Path(out) if out else RunPaths(Path(run)).results / split
    method = method_class(model.method)
    if samples and method.data_kind == "unpaired":
        Translator(model, norm=norm).check_samples(samples)  # its one-line refusal
    if method.data_kind == "unpaired":
        return run_unpaired_test(model, data, split, folder, norm=norm, limit=limit, progress=progress)
    cfg = model.config
    source = open_task_pairs(data, split, cfg.data)
    message = summarize_problems(source, data)
    if message:
        print(message, file=sys.stderr)
    if len(source) == 0:
        raise DataError(f"{shown(data)}: split '{split}' has no usable pairs")
    count = len(source) if limit is None else min(limit, len(source))
    samples = (DEFAULT_SAMPLES if model.sampling.source == "latent" else 0) if samples is None else samples
    translator = Translator(model, norm=norm, precision=precision, compile=compile, expected_images=count, seed=seed)
    if samples:
        translator.check_samples(samples)
    task = cfg.data.task
    others = baselines(task, cfg.data, mean_training_colour(data, cfg.data) if task == "edges" else None) if task != "paired" else {}
    rows: list[dict[str, Any]] = []
    baseline_rows: dict[str, list[dict[str, float]]] = {name: [] for name in others}
    if fcn_palette and task != "paired":
        raise ConfigError(f"--fcn-score: scores label maps -> photos, not the {task} task")
    judge = judge_for_data(data, cfg.data, fcn_palette, fcn_recipe, fcn_cache, progress) if fcn_palette else None
    realism, sampled_realism = RealismAccumulator(), RealismAccumulator()
    label_maps, outputs, photos = [], [], []
    for key, inp, output, target in translate_pairs(translator, source, cfg.data.direction, limit, progress=progress):
        realism.add(output, target)
        if judge is not None:
            label_maps.append(inp)
            outputs.append(output)
            photos.append(target)
        images = method.test_images(viewable_input(task, inp), output, target)
        scores = task_scores(task, inp, output, target, cfg.data) if task != "paired" else image_metrics(output, target)
        if samples:
            pictures = translator.sample_arrays([inp], samples, prepared=True)[0]
            own = None
            if translator.encoder is not None:
                own = translator.translate_arrays([inp], prepared=True, latent=translator.style_code(target))[0]
                images["own_code"] = own
            images.update({f"sample_{j}": picture for j, picture in enumerate(pictures)})
            scores.update(sample_scores(pictures, target, own))
            for picture in pictures:
                sampled_realism.add(picture, target)
        files = _write_row(folder / "images", key, images)
        rows.append({"key": key, "files": files, "metrics": scores})
        for name, baseline in others.items():
            baseline_rows[name].append(task_scores(task, inp, baseline(inp, target), target, cfg.data))
    mean = summarise(task, [r["metrics"] for r in rows]) if task != "paired" else mean_metrics([r["metrics"] for r in rows])
    report = _report_header(split, data, model, translator)
    realism_scores = realism.scores() if realism.measured else {}
    if sampled_realism.measured:
        realism_scores.update({f"samples_{name}": value for name, value in sampled_realism.scores().items()})
    if judge is not None:
        realism_scores.update(judge.scores(outputs, label_maps))
        report["fcn_reference"] = {"segmenter": judge.info, **judge.reference_scores(photos, label_maps)}
    report.update(count=len(rows), mean=mean, realism=realism_scores, images={r["key"]: r["metrics"] for r in rows})
    if others:
        report["task"] = task
        report["baselines"] = {name: summarise(task, values) for name, values in baseline_rows.items()}
    atomic_write(folder / "metrics.json", lambda fh: fh.write(json.dumps(report, indent=2) + "\n"), mode="w")
    write_results_page(folder, f"{Path(run).name}: {split} split", [("Images", rows, mean)], report)
    return TestResult(folder, len(rows), mean, report.get("baselines", {}), realism_scores, report.get("fcn_reference", {}))


def _write_row(images: Path, key: str, arrays: dict[str, np.ndarray]) -> dict[str, Path]:
    return {kind: write_image(array, images / f"{key}_{kind}.png") for kind, array in arrays.items()}


def _report_header(split: str, data: object, model: LoadedModel, translator: Translator) -> dict[str, Any]:
    return {
        "split": split,
        "data": str(data),
        "method": model.method,
        "checkpoint": str(model.path),
        "step": model.step,
        "weights": model.weights,
        "inference": {"norm": translator.norm, "seed": translator.seed, "scale": translator.scale},
        "sampling": model.sampling.source,
    }


def run_unpaired_test(
    model: LoadedModel,
    data: str | Path,
    split: str,
    folder: Path,
    *,
    norm: str | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> TestResult:
    """Unpaired methods: for each direction the model has, real | translated (| reconstructed, when the
    method's generators invert each other, ``round_trip``) for every image of the split.

    Scores: cycle L1 (reconstruction vs input) where there is a reconstruction; L1/MSE/PSNR/SSIM of
    the translation against a same-named image on the other side when the data happen to be paired
    (e.g. facades).
    """
    cfg = model.config
    a, b = open_unpaired(data, split, cfg.data)
    if cfg.data.direction == "BtoA":
        a, b = b, a
    for side in (a, b):
        message = side_warning(side, data, model.method)
        if message:
            print(message, file=sys.stderr)
        if len(side) == 0:
            raise DataError(f"{shown(data)}: {side.report.name} has no usable images")
    translators = {d: Translator(model, direction=d, norm=norm) for d in model.generators}
    reconstruct = method_class(model.method).round_trip and len(translators) == 2
    sections, directions = [], {}
    for name, source, other in (("AtoB", a, b), ("BtoA", b, a)):
        if name not in translators:
            continue
        there, back = translators[name], translators.get("BtoA" if name == "AtoB" else "AtoB")
        source_side, target_side = name[0], name[-1]
        partners = {pair_key(other.key(i)): i for i in range(len(other))}
        rows: list[dict[str, Any]] = []
        count = len(source) if limit is None else min(limit, len(source))
        for index in tqdm(range(count), desc=f"test {name}", disable=not progress, file=sys.stderr, leave=False):
            real = source.load(index)
            fake = there.translate_arrays([real])[0]
            images = {f"real_{source_side}": real, f"fake_{target_side}": fake}
            metrics: dict[str, float] = {}
            if reconstruct:
                rec = back.translate_arrays([fake])[0]
                images[f"rec_{source_side}"] = rec
                metrics["cycle_L1"] = l1(rec, real)
            partner = partners.get(pair_key(source.key(index)))
            if partner is not None:
                target = convert_channels(other.load(partner), fake.shape[2])
                if target.shape == fake.shape:
                    metrics.update(image_metrics(fake, target))
            files = _write_row(folder / "images", f"{name}_{source.key(index)}", images)
            rows.append({"key": source.key(index), "files": files, "metrics": metrics})
        mean = mean_metrics([r["metrics"] for r in rows])
        directions[name] = {"count": len(rows), "mean": mean, "images": {r["key"]: r["metrics"] for r in rows}}
        sections.append((f"{name}: real | translated" + (" | reconstructed" if reconstruct else ""), rows, mean))
    report = _report_header(split, data, model, next(iter(translators.values())))
    report["directions"] = directions
    atomic_write(folder / "metrics.json", lambda fh: fh.write(json.dumps(report, indent=2) + "\n"), mode="w")
    write_results_page(folder, f"{model.path.parent.parent.name}: {split} split ({model.method}, unpaired)", sections, report)
    combined = {f"{d}_{k}": v for d, entry in directions.items() for k, v in entry["mean"].items()}
    return TestResult(folder, sum(entry["count"] for entry in directions.values()), combined)


Section = tuple[str, list[dict[str, Any]], dict[str, float]]


def write_results_page(folder: Path, title: str, sections: list[Section], info: dict[str, Any]) -> Path:
    """index.html: per section, the mean metrics and every image row with its metrics."""
    body = [f"<h1>{esc(title)}</h1>"]
    body.append(f"<p>checkpoint {esc(info.get('checkpoint'))} (step {esc(info.get('step'))}), "
                f"inference {esc(info.get('inference'))}</p>")
    if info.get("realism"):
        body.append("<h2>Realism</h2><p>Over the whole split: detail per octave (outputs' / targets' spectral power; "
                    "1 = the photos', below 1 blurred) and grid artifacts per period (log peak excess over the "
                    "targets'; 0 = none, above 0.1 a visible grid).</p>")
        body.append(table(["measure", "value"], [[k, fmt(v)] for k, v in info["realism"].items()]))
    if info.get("fcn_reference"):
        body.append(f"<p>{esc(fcn_reference_line(info['fcn_reference']))}</p>")
    for heading, rows, mean in sections:
        columns = list(rows[0]["files"]) if rows else []
        metric_names = sorted({k for r in rows for k in r["metrics"]})
        body.append(f"<h2>{esc(heading)} ({len(rows)} images)</h2>")
        body.append(table(["metric", "mean"], [[k, fmt(v)] for k, v in mean.items()]))
        table_rows = []
        for r in rows:
            cells = [esc(r["key"])]
            cells += [f"<img src=\"{rel(r['files'][c], folder)}\" alt=\"{esc(r['key'])} {c}\">" for c in columns]
            cells += [esc(fmt(r["metrics"].get(m, ""))) for m in metric_names]
            table_rows.append(cells)
        body.append(f"<div class=\"cells\">{table(['name', *columns, *metric_names], table_rows, raw=True)}</div>")
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
