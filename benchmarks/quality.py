"""`pix2pix bench --quality`: our default recipe against the frozen paper recipe, at equal wall-clock.

    pix2pix bench --quality                      # facades, 128 px, both directions, 3 seeds, 600 s each
    pix2pix bench --quality --quick              # plumbing only (tiny budget, one seed)
    pix2pix bench --quality --data DIR --direction BtoA --seeds 2 --budget 300 --set loss.lambda_l1=50

- Data: an aligned A|B set (``--data``, default ../shared/data/facades). Options
  are chosen on a fixed validation list of training files (``facades_val.txt``,
  committed); both sides train on the other training files; the test split is
  scored once per run, for the final table.
- Sides: the reference (``paper_reference.py``: the paper's recipe, written
  there in full) and ours (``pix2pix train`` with its defaults and only the
  data settings, plus ``--set`` overrides: how a user runs it). Each run is a
  fresh process, sides interleaved per seed (ref 0, ours 0, ref 1, ...).
- Budget: the training loop's wall-clock from its first step, data loading,
  validation and checkpointing included as each side runs them (ours stops
  through ``train.max_minutes``); start-up and final scoring excluded and
  reported.
- Scores on the test split, one scorer for both (inputs and targets resized to
  the training size): L1, PSNR, SSIM, mean +- sd over seeds; photo -> labels also
  per-pixel accuracy, per-class accuracy and mean IoU through the facades
  palette; the checkerboard measure (``pix2pix.evaluation.checkerboard``).
- Time to quality: the mean-over-seeds validation L1 curve of ours, smoothed over
  3 points, first reaches and then stays below the reference's final
  validation L1; that wall-clock is reported.
- Output: a table, one JSON line, a PNG grid (input | reference | ours | target).
- Another method against our pix2pix: ``--baseline defaults`` makes the reference
  side ``pix2pix train`` with our defaults (no ``--set``), e.g.
  ``--baseline defaults --set model.method=bicyclegan --samples 8``.
- Several pictures per input (``--samples K``): each ``pix2pix train`` side also
  draws K samples per test input (a latent code, or dropout in per_image mode:
  ``pix2pix.evaluation.sampling``) and is scored on them: diversity, best of K,
  the target's own code where there is an encoder, and the realism measures
  and FCN-score over every sample (``samples_*``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
DEFAULT_DATA = REPO.parent / "shared" / "data" / "facades"
VAL_LIST = HERE / "facades_val.txt"
GRID_IMAGES = 4


# ---------------------------------------------------------------------- data
def validation_names(data: Path, count: int = 40) -> list[str]:
    """The committed validation list for facades; for other data, a seeded draw of ``count`` training files."""
    names = sorted(p.name for p in (data / "train").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if data.resolve() == DEFAULT_DATA.resolve() and VAL_LIST.exists():
        listed = [line.strip() for line in VAL_LIST.read_text().splitlines() if line.strip() and not line.startswith("#")]
        missing = sorted(set(listed) - set(names))
        if missing:
            raise SystemExit(f"error: {VAL_LIST.name} names files not in {data / 'train'}: {missing[:3]}")
        return listed
    rng = np.random.default_rng(1234)
    return sorted(rng.choice(names, size=min(count, max(1, len(names) // 10)), replace=False).tolist())


def split_folder(data: Path, root: Path, val: list[str]) -> Path:
    """DATA/{train,val,test} as symlinks: train minus the validation list, the list, the test split."""
    folder = root / "split"
    for name in ("train", "val", "test"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    for path in sorted((data / "train").iterdir()):
        (folder / ("val" if path.name in val else "train") / path.name).symlink_to(path.resolve())
    for path in sorted((data / "test").iterdir()):
        (folder / "test" / path.name).symlink_to(path.resolve())
    return folder


def load_pairs(folder: Path, size: int, direction: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, input, target) at size x size, bicubic, the direction applied."""
    from pix2pix.data.io import read_image
    from pix2pix.data.transforms import resize

    pairs = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        ab = read_image(path)
        half = ab.shape[1] // 2
        a, b = resize(ab[:, :half], size, size), resize(ab[:, half:], size, size)
        pairs.append((path.stem, a, b) if direction == "AtoB" else (path.stem, b, a))
    return pairs


# ---------------------------------------------------------------------- scoring
def score(outputs: list[np.ndarray], targets: list[np.ndarray], direction: str) -> dict[str, float]:
    """One scorer for both sides."""
    from pix2pix.evaluation.realism import realism_scores
    from pix2pix.metrics import image_metrics, mean_metrics

    result = mean_metrics([image_metrics(o, t) for o, t in zip(outputs, targets)])
    result = {k: result[k] for k in ("L1", "PSNR", "SSIM") if k in result}
    if direction == "AtoB":  # photo -> labels: the paper scores it as segmentation
        from pix2pix.evaluation.segmentation import confusion, load_palette, segmentation_scores

        palette = load_palette("facades")
        matrix = sum(confusion(palette, o, t) for o, t in zip(outputs, targets))
        seg = segmentation_scores(palette, matrix)
        result.update(pixel_accuracy=seg["pixel_accuracy"], class_accuracy=seg["mean_class_accuracy"], mean_IoU=seg["mean_IoU"])
    result.update(realism_scores(zip(outputs, targets)))  # detail per octave, grid artifacts per period
    return result


def val_l1(outputs: list[np.ndarray], targets: list[np.ndarray]) -> float:
    from pix2pix.metrics import l1

    return float(np.mean([l1(o, t) for o, t in zip(outputs, targets)]))


# ---------------------------------------------------------------------- the two sides
def run_reference(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: train the paper recipe for the budget, then score (not timed)."""
    import torch

    from paper_reference import train_for

    torch.set_num_threads(spec["threads"])
    folder = Path(spec["split"])
    files = sorted(p for p in (folder / "train").iterdir())
    recipe, steps, startup = train_for(files, spec["size"], spec["direction"], spec["budget"], spec["seed"], spec["workers"])
    test = load_pairs(folder / "test", spec["size"], spec["direction"])
    val = load_pairs(folder / "val", spec["size"], spec["direction"])
    outputs = [recipe.translate(inp) for _, inp, _ in test]
    val_outputs = [recipe.translate(inp) for _, inp, _ in val]
    result = {"steps": steps, "startup_s": startup, "budget_s": spec["budget"],
              "scores": score(outputs, [t for _, _, t in test], spec["direction"]),
              "val_L1": val_l1(val_outputs, [t for _, _, t in val])}
    save_outputs(Path(spec["outputs"]), outputs)
    save_outputs(val_outputs_path(Path(spec["outputs"])), val_outputs)
    return result


def ours_command(spec: dict[str, Any], run: Path) -> list[str]:
    size = spec["size"]
    sets = [f"data.direction={spec['direction']}", f"data.crop_size={size}", f"data.load_size={round(size * 286 / 256)}",
            f"data.num_workers={spec['workers']}", f"train.seed={spec['seed']}", f"train.max_minutes={spec['budget'] / 60}",
            f"train.val_every={spec['val_every']}", "train.sample_every=0", *spec["overrides"]]
    return [sys.executable, "-m", "pix2pix", "train", spec["split"], "--out", str(run), "--no-progress",
            *[a for item in sets for a in ("--set", item)]]


def samples_path(path: Path) -> Path:
    """Where a run's sampled test outputs are kept (input i's sample j at i * K + j), beside its test outputs."""
    return path.with_name(path.name.removesuffix(".npz") + ".samples.npz")


def own_code_path(path: Path) -> Path:
    """Where a run's test outputs from each target's own code are kept (models with an encoder)."""
    return path.with_name(path.name.removesuffix(".npz") + ".own_code.npz")


def save_samples(translator: Any, inputs: list[np.ndarray], targets: list[np.ndarray], k: int, seed: int,
                 outputs: Path) -> None:
    """K samples per test input from ``seed``, and the targets' own codes' outputs where there is an encoder."""
    per_input = translator.sample_arrays(inputs, k, seed=seed)
    save_outputs(samples_path(outputs), [picture for pictures in per_input for picture in pictures])
    if translator.encoder is not None:
        own = [translator.translate_arrays([inp], latent=translator.style_code(target))[0]
               for inp, target in zip(inputs, targets)]
        save_outputs(own_code_path(outputs), own)


def sample_summary(outputs: Path, k: int, targets: list[np.ndarray], inputs: list[np.ndarray], judge: Any,
                   direction: str) -> dict[str, float]:
    """Scores of a run's saved samples (see ``save_samples``): diversity, best of K, the targets' own codes,
    and the realism measures and FCN-score over every sample (``samples_*``)."""
    from pix2pix.evaluation.realism import realism_scores
    from pix2pix.evaluation.sampling import sample_scores

    flat = load_outputs(samples_path(outputs))
    own = load_outputs(own_code_path(outputs)) if own_code_path(outputs).exists() else [None] * len(targets)
    rows = [sample_scores(flat[i * k:(i + 1) * k], target, own[i]) for i, target in enumerate(targets)]
    scores = {name: float(np.mean([row[name] for row in rows])) for name in rows[0]}
    repeated = [target for target in targets for _ in range(k)]
    scores.update({f"samples_{name}": value for name, value in realism_scores(zip(flat, repeated)).items()})
    if judge is not None:
        scores.update({f"samples_{name}": value
                       for name, value in judge.scores(flat, [inp for inp in inputs for _ in range(k)]).items()})
    return scores


def run_ours(spec: dict[str, Any]) -> dict[str, Any]:
    """`pix2pix train` as a user runs it, stopped by its time budget; then score its best checkpoint."""
    import torch

    from pix2pix.inference import Translator, load_model
    from pix2pix.runs.checkpoints import load_checkpoint

    run = Path(spec["run"])
    started = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]),  # this checkout's code, whatever is installed
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    r = subprocess.run(ours_command(spec, run), capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if r.returncode != 0:
        raise SystemExit(f"error: our training failed: {r.stderr[-2000:]}")
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    curve = [(entry["seconds"], entry["val_L1"]) for entry in map(json.loads, (run / "log.jsonl").read_text().splitlines())
             if entry.get("event") == "val" and "seconds" in entry]
    torch.set_num_threads(spec["threads"])
    translator = Translator(load_model(run), scale="native")  # best.pt, every inference default
    folder = Path(spec["split"])
    test = load_pairs(folder / "test", spec["size"], spec["direction"])
    outputs = translator.translate_arrays([inp for _, inp, _ in test])
    save_outputs(Path(spec["outputs"]), outputs)
    val = load_pairs(folder / "val", spec["size"], spec["direction"])
    save_outputs(val_outputs_path(Path(spec["outputs"])), translator.translate_arrays([inp for _, inp, _ in val]))
    targets = [t for _, _, t in test]
    if spec.get("samples"):
        save_samples(translator, [inp for _, inp, _ in test], targets, spec["samples"], spec["seed"], Path(spec["outputs"]))
    other = "eval" if translator.norm == "per_image" else "per_image"  # the other inference mode, for inference.norm's default
    alternative = Translator(load_model(run), scale="native", norm=other).translate_arrays([inp for _, inp, _ in test])
    return {"steps": int(latest["step"]), "budget_s": spec["budget"], "train_seconds": float(latest["train_seconds"]),
            "startup_s": wall - float(latest["train_seconds"]), "curve": curve, "norm": translator.norm,
            "scores": score(outputs, targets, spec["direction"]),
            "other_norm": {"norm": other, "scores": score(alternative, targets, spec["direction"])}}


def worker(spec: dict[str, Any]) -> None:
    result = run_reference(spec) if spec["side"] == "ref" else run_ours(spec)  # "base": our defaults, no --set
    print("RESULT " + json.dumps(result))


def spawn(spec: dict[str, Any]) -> dict[str, Any]:
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                       capture_output=True, text=True, timeout=spec["budget"] * 3 + 1800)
    if r.returncode != 0:
        raise SystemExit(f"error: the {spec['side']} run failed:\n{r.stderr[-3000:]}")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


# ---------------------------------------------------------------------- the run store (resumable)
def save_outputs(path: Path, outputs: list[np.ndarray]) -> None:
    """Every test output of a run, so that a new scorer can re-score it without training again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, *outputs)
    os.replace(tmp, path)


def val_outputs_path(path: Path) -> Path:
    """Where a run's validation outputs are kept, beside its test outputs: options are chosen on these."""
    return path.with_name(path.name.removesuffix(".npz") + ".val.npz")


def load_outputs(path: Path) -> list[np.ndarray]:
    with np.load(path) as stored:
        return [stored[f"arr_{i}"] for i in range(len(stored.files))]


def code_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def side_code(side: str) -> str:
    """What a side's figures depend on: the frozen reference's three files, or our whole package."""
    if side == "ref":
        return code_hash([HERE / "paper_reference.py", HERE / "research_nets.py", HERE / "reference.py"])
    return code_hash(list((REPO / "src" / "pix2pix").rglob("*.py")))


def scorer_version(judge: Any = None) -> str:
    """The realism measures' version, and the FCN-score segmenter's name when a judge scores the run."""
    from pix2pix.evaluation.realism import SCORER_VERSION

    return f"realism-{SCORER_VERSION}" + (f"+fcn-{judge.info['key']}" if judge is not None else "")


def git_commit() -> str:
    r = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


class RunStore:
    """One JSON record per finished run (and an .npz of its test outputs), written the moment the run ends.

    A record counts only for the same identity (CPU model, the side's code, data, size, budget, seed, threads,
    our overrides). The table refuses to mix: a record made with another identity is an error (``strict``), or,
    for the reference cache, simply run again. A record scored by an older scorer is re-scored from its outputs.
    """

    def __init__(self, folder: Path, strict: bool) -> None:
        self.folder, self.strict = folder, strict

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.json", self.folder / f"{key}.npz"

    def finished(self, key: str, identity: dict[str, Any], scorer: str, rescore, ignore: tuple[str, ...] = ()  # noqa: ANN001
                 ) -> dict[str, Any] | None:
        """The record of a finished run of this identity (keys in ``ignore`` not compared), re-scored if
        ``scorer`` is newer than the one that scored it; None when the run is still to do."""
        record_path, outputs_path = self.paths(key)
        if not record_path.exists():
            return None
        record = json.loads(record_path.read_text())
        kept = record.get("identity", {})
        differ = sorted(k for k in {**identity, **kept} if k not in ignore and identity.get(k) != kept.get(k))
        if differ:
            if not self.strict:
                return None
            raise SystemExit(f"error: {record_path} was made with another {', '.join(differ)}: runs that differ are "
                             f"never mixed in one table; use another --out")
        if not outputs_path.exists():
            return None
        if record.get("scorer") != scorer:
            record["result"] = rescore(record["result"], load_outputs(outputs_path), outputs_path)
            self.write(key, kept, scorer, record["result"])
            record["scorer"] = scorer
        return record

    def write(self, key: str, identity: dict[str, Any], scorer: str, result: dict[str, Any]) -> None:
        record = {"identity": identity, "scorer": scorer, "commit": git_commit(),
                  "written": time.strftime("%Y-%m-%d %H:%M:%S"), "result": result}
        path = self.paths(key)[0]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(tmp, path)


def fcn_judge(data: Path, palette_name: str | None, split: Path, size: int, direction: str, quick: bool,
              cache: Path | None) -> Any:
    """The FCN-score segmenter for labels -> photo (trained once on the training photos, cached), else None."""
    if direction != "BtoA" or not palette_name:
        return None
    from pix2pix.evaluation.fcn_score import FULL, QUICK, segmenter_for
    from pix2pix.evaluation.segmentation import load_palette

    recipe = QUICK if quick else FULL
    train = [(photo, labels) for _, labels, photo in load_pairs(split / "train", recipe.size, direction)]
    return segmenter_for(train, load_palette(palette_name), name=data.resolve().name, recipe=recipe, cache=cache)


# ---------------------------------------------------------------------- summary
def mean_sd(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def pooled_gap(a: list[float], b: list[float]) -> float | None:
    """(mean b - mean a) in pooled standard deviations (None with fewer than 2 seeds a side)."""
    if len(a) < 2 or len(b) < 2:
        return None
    pooled = np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    return float((np.mean(b) - np.mean(a)) / pooled) if pooled > 0 else float("inf")


def time_to_quality(curves: list[list[tuple[float, float]]], threshold: float) -> float | None:
    """Wall-clock at which the mean validation curve (smoothed over 3 points) goes below ``threshold``
    and stays there; None if it never does."""
    length = min(len(c) for c in curves) if curves else 0
    if length == 0:
        return None
    seconds = np.mean([[t for t, _ in c[:length]] for c in curves], axis=0)
    values = np.mean([[v for _, v in c[:length]] for c in curves], axis=0)
    smooth = np.convolve(np.pad(values, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    below = smooth <= threshold
    for i in range(length):
        if below[i:].all():
            return float(seconds[i])
    return None


def summarise(direction: str, results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean and sd per side of every score either side has (a side without it, e.g. the paper reference's
    samples or a cached reference's newer measures: None), the gap where both have it."""
    names = list(dict.fromkeys([*results["ref"][0]["scores"], *results["ours"][0]["scores"]]))
    summary: dict[str, Any] = {"direction": direction, "seeds": len(results["ref"])}
    for name in names:
        ref = [r["scores"][name] for r in results["ref"] if name in r["scores"]]
        ours = [r["scores"][name] for r in results["ours"] if name in r["scores"]]
        both = len(ref) == len(results["ref"]) and len(ours) == len(results["ours"])
        summary[name] = {"reference": mean_sd(ref) if ref else None, "ours": mean_sd(ours) if ours else None,
                         "gap_sd": pooled_gap(ref, ours) if both else None}
    for side in ("ref", "ours"):
        summary[f"steps_{side}"] = mean_sd([r["steps"] for r in results[side]])
        summary[f"startup_s_{side}"] = mean_sd([r["startup_s"] for r in results[side]])
    threshold = float(np.mean([r["val_L1"] if "val_L1" in r else r["val_scores"]["L1"] for r in results["ref"]]))
    summary["reference_val_L1"] = threshold
    summary["time_to_reference_s"] = time_to_quality([r["curve"] for r in results["ours"]], threshold)
    return summary


def print_table(summaries: list[dict[str, Any]], budget: float, cpu: str, reference: str = "reference") -> None:
    print(f"quality at equal wall-clock ({budget:g} s of training each), {cpu}; mean +- sd over seeds")

    def cell(value: tuple[float, float] | None) -> str:
        return f"{'-':>20}" if value is None else f"{value[0]:>13.4f} +- {value[1]:.4f}"

    for s in summaries:
        print(f"\n{s['direction']} ({s['seeds']} seeds): steps {reference} {s['steps_ref'][0]:.0f}, ours {s['steps_ours'][0]:.0f}")
        print(f"  {'metric':<24}{reference:>20}{'ours':>20}{'gap (pooled sd)':>18}")
        for name, value in s.items():
            if isinstance(value, dict) and "reference" in value:
                gap = "" if value["gap_sd"] is None else f"{value['gap_sd']:+.1f}"
                print(f"  {name:<24}{cell(value['reference'])}{cell(value['ours'])}{gap:>18}")
        fcn = s.get("fcn_reference")
        if fcn:
            print(f"  FCN-score judge ({fcn['segmenter']['key']}): real test photos pixel accuracy "
                  f"{fcn['real_pixel_accuracy']:.4f}, class accuracy {fcn['real_class_accuracy']:.4f}, mean IoU "
                  f"{fcn['real_mean_IoU']:.4f} (the ceiling); blurred (sigma {fcn['blur_sigma']:g} px) "
                  f"{fcn['blurred_pixel_accuracy']:.4f} / {fcn['blurred_class_accuracy']:.4f} / {fcn['blurred_mean_IoU']:.4f};"
                  f" majority class {fcn['majority_class_rate']:.4f}")
        ttq = s["time_to_reference_s"]
        print(f"  time for ours to reach the reference's final validation L1 ({s['reference_val_L1']:.4f}): "
              + (f"{ttq:.0f} s ({budget / ttq:.1f}x faster)" if ttq else "not reached"))


def write_grid(path: Path, pairs: list[tuple[str, np.ndarray, np.ndarray]], ref_file: Path, ours_file: Path) -> None:
    from pix2pix.data.io import write_image
    from pix2pix.data.images import grid

    ref, ours = load_outputs(ref_file), load_outputs(ours_file)
    rows = [[inp, ref[i], ours[i], target] for i, (_, inp, target) in enumerate(pairs[:GRID_IMAGES])]
    write_image(grid(rows), path)


def write_sample_grid(path: Path, pairs: list[tuple[str, np.ndarray, np.ndarray]], outputs_file: Path, k: int,
                      shown: int = 6) -> None:
    """input | up to ``shown`` samples | target, for the first GRID_IMAGES test inputs: what varies, what stays."""
    from pix2pix.data.images import grid
    from pix2pix.data.io import write_image

    flat = load_outputs(samples_path(outputs_file))
    rows = [[inp, *flat[i * k:i * k + min(k, shown)], target] for i, (_, inp, target) in enumerate(pairs[:GRID_IMAGES])]
    write_image(grid(rows), path)


def cpu_name() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{model}, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pix2pix bench --quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quality", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="plumbing check: tiny budget, one seed, one direction")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="aligned A|B data with train/ and test/")
    parser.add_argument("--direction", default=None, choices=["AtoB", "BtoA", "both"], help="default: both (quick: BtoA)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 per side (default 3; quick 1)")
    parser.add_argument("--budget", type=float, default=None, help="seconds of training per run (default 600; quick 15)")
    parser.add_argument("--size", type=int, default=None, help="training size (default 128; quick 64)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers, both sides")
    parser.add_argument("--val-every", type=int, default=None, help="our validation interval in steps (default 100)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override on our side only")
    parser.add_argument("--baseline", choices=["paper", "defaults"], default="paper",
                        help="the reference side: the frozen paper recipe (default), or pix2pix train with our defaults "
                             "(to measure another method or option set against them)")
    parser.add_argument("--samples", type=int, default=0, metavar="K",
                        help="also K samples per test input on each pix2pix-train side, scored (diversity, best of K, "
                             "realism and FCN-score over every sample); 0: none")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="keep each run's result here the moment it ends; the same command again skips finished runs "
                             "(resumable), and refuses runs made on another CPU model or with other code or options")
    parser.add_argument("--reference-cache", type=Path, metavar="DIR",
                        help="keep reference runs here and reuse them (same CPU model, reference code, data, direction, "
                             "size, budget, seed): the reference is frozen, so screening our options need not re-run it")
    parser.add_argument("--score-only", action="store_true",
                        help="train nothing: build the table from the runs in --out (re-scored by this code's scorer "
                             "where theirs is older); each side's runs must share one code version")
    parser.add_argument("--palette", default=None,
                        help="label-map palette for the FCN-score of labels -> photo (a built-in name or a JSON file; "
                             "default: facades for the facades data, else no FCN-score)")
    parser.add_argument("--segmenter-cache", type=Path, metavar="DIR",
                        help="where FCN-score segmenters are kept (default ~/.cache/pix2pix/segmenters)")
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep our run folders here (to look at, test or serve)")
    parser.add_argument("--grid", type=Path, help="PNG grid input | reference | ours | target (default: quality_grid.png)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    quick = args.quick
    seeds = args.seeds or (1 if quick else 3)
    budget = args.budget or (15.0 if quick else 600.0)
    size = args.size or (64 if quick else 128)
    directions = {"both": ["BtoA", "AtoB"], None: ["BtoA"] if quick else ["BtoA", "AtoB"]}.get(args.direction, [args.direction])
    for name, value, low in (("--seeds", args.seeds, 1), ("--budget", args.budget, 1), ("--size", args.size, 32)):
        if value is not None and not value >= low:  # 0 and negatives would run (or fail) for minutes first
            print(f"error: {name} {value:g}: must be at least {low}", file=sys.stderr)
            return 2
    if not (args.data / "train").is_dir() or not (args.data / "test").is_dir():
        print(f"error: --data {args.data}: needs train/ and test/ folders of aligned A|B images", file=sys.stderr)
        return 2
    if not 0 <= args.samples <= 64:
        print(f"error: --samples {args.samples}: must be between 0 and 64", file=sys.stderr)
        return 2
    if args.baseline == "defaults" and args.reference_cache:
        print("error: --reference-cache keeps the frozen paper reference; --baseline defaults trains our code", file=sys.stderr)
        return 2
    if args.score_only and not args.out:
        print("error: --score-only: needs --out DIR, the folder of finished runs", file=sys.stderr)
        return 2
    palette = args.palette or ("facades" if args.data.resolve() == DEFAULT_DATA.resolve() else None)
    cpu = cpu_name()
    figures: dict[str, Any] = {"cpu": cpu, "budget_s": budget, "size": size, "seeds": seeds, "overrides": args.set,
                               "baseline": args.baseline, "samples": args.samples,
                               "quick": quick, "commit": git_commit(), "directions": {}}
    started = time.time()
    base = args.baseline == "defaults"  # the reference side is pix2pix train with our defaults
    code = {"ref": side_code("ours" if base else "ref"), "ours": side_code("ours")}
    reference_label = "pix2pix defaults" if base else "reference"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stores = {"ours": RunStore(args.out or root / "runs", strict=True)}
        stores["ref"] = RunStore(args.reference_cache, strict=False) if args.reference_cache else stores["ours"]
        split = split_folder(args.data, root, validation_names(args.data))
        summaries = []
        for direction in directions:
            test_pairs = load_pairs(split / "test", size, direction)
            targets, inputs = [t for _, _, t in test_pairs], [i for _, i, _ in test_pairs]
            val_pairs = load_pairs(split / "val", size, direction)
            judge = fcn_judge(args.data, palette, split, size, direction, quick, args.segmenter_cache)
            scorer = scorer_version(judge)

            def full_score(outputs: list[np.ndarray], direction: str = direction, targets: list[np.ndarray] = targets,
                           inputs: list[np.ndarray] = inputs, judge: Any = judge) -> dict[str, float]:
                scores = score(outputs, targets, direction)
                if judge is not None:  # labels -> photo: the inputs are the label maps
                    scores.update(judge.scores(outputs, inputs))
                return scores

            def val_score(outputs_file: Path, full_score=full_score, val_pairs=val_pairs) -> dict[str, float] | None:  # noqa: ANN001
                """The same scores on the validation list, where options are chosen (None for runs without its outputs)."""
                path = val_outputs_path(outputs_file)
                if not path.exists():
                    return None
                return full_score(load_outputs(path), targets=[t for _, _, t in val_pairs], inputs=[i for _, i, _ in val_pairs])

            def rescore(result: dict[str, Any], outputs: list[np.ndarray], outputs_file: Path, full_score=full_score,  # noqa: ANN001
                        targets=targets, inputs=inputs, judge=judge, direction=direction) -> dict[str, Any]:
                result = {**result, "scores": full_score(outputs)}
                if samples_path(outputs_file).exists() and result.get("samples"):
                    result["scores"].update(sample_summary(outputs_file, result["samples"], targets, inputs, judge, direction))
                result.pop("other_norm", None)  # its outputs are not kept
                result.pop("val_scores", None)  # re-scored below from its outputs, where kept
                return result

            if judge is not None:
                figures["directions"].setdefault(direction, {})["fcn_reference"] = {
                    "segmenter": judge.info, **judge.reference_scores(targets, inputs)}
            results: dict[str, list[dict[str, Any]]] = {"ref": [], "ours": []}
            codes: dict[str, set[str]] = {"ref": set(), "ours": set()}
            for seed in range(seeds):
                for side in ("ref", "ours"):
                    store = stores[side]
                    kind = "base" if side == "ref" and base else side  # what the side runs: ref, base or ours
                    key = f"{args.data.resolve().name}_{direction}_{kind}_seed{seed}"
                    sampled = args.samples if kind != "ref" else 0
                    identity = {"cpu": cpu, "code": code[side], "data": str(args.data.resolve().name), "direction": direction,
                                "size": size, "budget_s": budget, "seed": seed, "threads": args.threads,
                                "workers": args.workers, **({"overrides": args.set} if kind == "ours" else {}),
                                **({"overrides": []} if kind == "base" else {}), **({"samples": sampled} if sampled else {})}
                    label = reference_label if side == "ref" else "ours"
                    done = store.finished(key, identity, scorer, rescore, ignore=("code",) if args.score_only else ())
                    if done is not None:
                        print(f"{direction} seed {seed}: {label}: done before ({store.paths(key)[0]})", file=sys.stderr)
                        if "val_scores" not in done["result"] and (found := val_score(store.paths(key)[1])) is not None:
                            done["result"]["val_scores"] = found
                        results[side].append(done["result"])
                        codes[side].add(done["identity"]["code"])
                        continue
                    if args.score_only:
                        print(f"error: --score-only: no finished run {store.paths(key)[0]}", file=sys.stderr)
                        return 2
                    spec = {"side": kind, "split": str(split), "size": size, "direction": direction, "seed": seed,
                            "budget": budget, "threads": args.threads, "workers": args.workers,
                            "val_every": args.val_every or (20 if quick else 100),
                            "overrides": args.set if kind == "ours" else [], "samples": sampled,
                            "run": str(root / f"run_{direction}_{kind}_{seed}"), "outputs": str(store.paths(key)[1])}
                    print(f"{direction} seed {seed}: {label} ...", file=sys.stderr, flush=True)
                    result = spawn(spec)
                    if judge is not None:
                        result["scores"].update(judge.scores(load_outputs(Path(spec["outputs"])), inputs))
                    if sampled:
                        result["samples"] = sampled
                        result["scores"].update(sample_summary(Path(spec["outputs"]), sampled, targets, inputs, judge, direction))
                    result["val_scores"] = val_score(Path(spec["outputs"]))
                    store.write(key, identity, scorer, result)  # the moment it ends: an interruption loses one run
                    results[side].append(result)
                    codes[side].add(code[side])
                    if side == "ours" and args.keep:
                        shutil.copytree(spec["run"], args.keep / Path(spec["run"]).name, dirs_exist_ok=True)
            mixed = [side for side, found in codes.items() if len(found) > 1]
            if mixed:
                print(f"error: the {mixed[0]} runs in {stores[mixed[0]].folder} come from {len(codes[mixed[0]])} code "
                      f"versions: runs that differ are never mixed in one table", file=sys.stderr)
                return 2
            summary = summarise(direction, results)
            if judge is not None:
                summary["fcn_reference"] = figures["directions"][direction]["fcn_reference"]
            summaries.append(summary)
            figures["directions"].setdefault(direction, {}).update(summary=summary, runs=results, scorer=scorer)
            grid_path = args.grid or Path("quality_grid.png")
            if len(directions) > 1:
                grid_path = grid_path.with_name(f"{grid_path.stem}_{direction}{grid_path.suffix}")
            seed0 = f"{args.data.resolve().name}_{direction}_{{}}_seed0"
            write_grid(grid_path, test_pairs, stores["ref"].paths(seed0.format("base" if base else "ref"))[1],
                       stores["ours"].paths(seed0.format("ours"))[1])
            figures["directions"][direction]["grid"] = str(grid_path)
            if args.samples:
                sample_grid = grid_path.with_name(f"{grid_path.stem}_samples{grid_path.suffix}")
                write_sample_grid(sample_grid, test_pairs, stores["ours"].paths(seed0.format("ours"))[1], args.samples)
                figures["directions"][direction]["sample_grid"] = str(sample_grid)
    figures["seconds_total"] = time.time() - started
    print_table(summaries, budget, cpu, reference_label)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    line = {"quality": {s["direction"]: {k: (v["ours"][0] / v["reference"][0] if isinstance(v, dict) and "ours" in v
                                             and v["ours"] and v["reference"] else v)
                                         for k, v in s.items() if k in ("L1", "PSNR", "SSIM", "mean_IoU", "pixel_accuracy",
                                                                        "detail_2px", "detail_4px", "time_to_reference_s")}
                        for s in summaries}, "cpu": cpu, "quick": quick}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
