"""``pix2pix evaluate``: score a folder of outputs against a folder of targets."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from tqdm import tqdm

from ..data.io import atomic_write, convert_channels, read_image
from ..config import DataConfig
from ..data.layout import list_images, pair_by_stem, pair_key
from ..data.transforms import resize
from ..errors import ConfigError, DataError, ImageError, shown
from .fcn_score import FULL, SegmenterRecipe, fcn_line, fcn_reference_line, judge_for_data
from .fid import extract_features, fid_from_features, kid_from_features, warn_small_fid
from ..metrics import image_metrics, mean_metrics
from .realism import RealismAccumulator, format_realism
from .segmentation import confusion, load_palette, segmentation_scores


@dataclass
class EvalResult:
    count: int
    mean: dict[str, float]
    per_image: dict[str, dict[str, float]]
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _folder_images(folder: Path, label: str) -> list[Path]:
    listing = list_images(folder)
    if not listing.images:
        raise DataError(f"--{label} {shown(folder)}: no images found")
    return listing.images


def evaluate_folders(
    pred: str | Path,
    target: str | Path,
    *,
    out: str | Path | None = None,
    fid: bool = False,
    kid: bool = False,
    fid_weights: str | Path | None = None,
    palette: str | None = None,
    feature_net: nn.Module | None = None,
    fcn_palette: str | None = None,
    fcn_labels: str | Path | None = None,
    fcn_train_data: str | Path | None = None,
    fcn_label_side: str = "B",
    fcn_recipe: SegmenterRecipe = FULL,
    fcn_cache: str | Path | None = None,
    progress: bool = True,
) -> EvalResult:
    """Pair outputs and targets by stem (same rule as check-data); per-image and mean metrics.

    Args:
        fid, kid: also compute FID / KID with the Inception network from ``fid_weights``
            (or ``feature_net``, a stand-in used by tests).
        palette: also score segmentation (photo -> label) with this palette.
        fcn_palette: also the FCN-score of generated photos (label map -> photo): a segmenter trained on the
            train split of ``fcn_train_data`` (its label maps on side ``fcn_label_side``) reads the outputs,
            scored against the label maps in ``fcn_labels`` (paired by stem); the targets give the ceiling.
        out: where to write metrics.json (default: PRED/metrics.json).
    """
    pred, target = Path(pred), Path(target)
    if fid or kid:  # fail on missing weights before any work
        if feature_net is None:
            from .inception import load_fid_inception

            feature_net = load_fid_inception(fid_weights)
    seg_palette = load_palette(palette) if palette else None
    judge, labels = None, {}
    if fcn_palette:
        if not fcn_labels or not fcn_train_data:
            raise ConfigError("--fcn-score: needs --labels DIR (the label maps of the outputs) and --train-data DATA "
                              "(real photos with label maps, for the segmenter)")
        labels = {pair_key(p.stem): p for p in _folder_images(Path(fcn_labels), "labels")}
    pairing = pair_by_stem(_folder_images(pred, "pred"), _folder_images(target, "target"), "pred", "target")
    for problem in pairing.problems[:5]:
        print(f"warning: {problem}", file=sys.stderr)
    if len(pairing.problems) > 5:
        print(f"warning: ... and {len(pairing.problems) - 5} more unpaired files", file=sys.stderr)
    if not pairing.pairs:
        raise DataError(f"no output in {shown(pred)} has a same-named target in {shown(target)}")
    if fcn_palette:  # every output needs its label map: say so before minutes of training the judge
        unlabelled = [pred_path for key, pred_path, _ in pairing.pairs if key not in labels]
        if unlabelled:
            raise DataError(f"--labels {shown(Path(fcn_labels))}: no label map named like {shown(unlabelled[0])} "
                            f"({len(unlabelled)} output(s) without one)")
        judge = judge_for_data(fcn_train_data, DataConfig(direction="BtoA" if fcn_label_side == "B" else "AtoB"),
                               fcn_palette, fcn_recipe, fcn_cache, progress)
    per_image: dict[str, dict[str, float]] = {}
    preds, targets, label_maps = [], [], []  # kept for the set-level scores that need the images
    keep = fid or kid or judge is not None
    matrix = None
    resized = 0
    realism = RealismAccumulator()
    for key, pred_path, target_path in tqdm(pairing.pairs, desc="evaluate", unit="img", disable=not progress, file=sys.stderr, leave=False):
        try:
            p, t = read_image(pred_path), read_image(target_path)
        except ImageError as exc:
            print(f"warning: skipped {exc}", file=sys.stderr)
            continue
        p = convert_channels(p, t.shape[2])
        if p.shape != t.shape:
            p = resize(p, t.shape[0], t.shape[1])
            resized += 1
        per_image[key] = image_metrics(p, t)
        realism.add(p, t)
        if keep:
            preds.append(p)
            targets.append(t)
        if judge is not None:
            label_maps.append(read_image(labels[key]))
        if seg_palette is not None:
            m = confusion(seg_palette, convert_channels(p, 3), convert_channels(t, 3))
            matrix = m if matrix is None else matrix + m
    if not per_image:
        raise DataError("no readable output/target pair")
    if resized:
        print(f"note: resized {resized} output(s) to their target's size", file=sys.stderr)
    result = EvalResult(len(per_image), mean_metrics(list(per_image.values())), per_image)
    if realism.measured:
        result.extra["realism"] = realism.scores()
    if judge is not None:
        result.extra["fcn_score"] = judge.scores(preds, label_maps)
        result.extra["fcn_reference"] = {"segmenter": judge.info, **judge.reference_scores(targets, label_maps)}
    if fid or kid:
        a, b = extract_features(feature_net, preds), extract_features(feature_net, targets)
        if fid:
            warn_small_fid(len(preds))
            result.extra["FID"] = fid_from_features(a, b)
        if kid:
            result.extra["KID"], result.extra["KID_std"] = kid_from_features(a, b)
    if seg_palette is not None and matrix is not None:
        result.extra["segmentation"] = segmentation_scores(seg_palette, matrix)
    path = Path(out) if out else pred / "metrics.json"
    payload = {"pred": str(pred), "target": str(target), "count": result.count, "mean": result.mean,
               **result.extra, "images": per_image}
    result.path = atomic_write(path, lambda fh: fh.write(json.dumps(payload, indent=2) + "\n"), mode="w")
    return result


def format_table(result: EvalResult, max_rows: int = 30) -> list[str]:
    """Per-image rows (the first ``max_rows``) and the mean, as aligned text."""
    names = sorted({k for m in result.per_image.values() for k in m})
    width = max([len(k) for k in result.per_image] + [5])
    lines = [f"{'image':<{width}}  " + "  ".join(f"{n:>8}" for n in names)]
    for key, metrics in list(result.per_image.items())[:max_rows]:
        lines.append(f"{key:<{width}}  " + "  ".join(f"{metrics.get(n, float('nan')):>8.4f}" for n in names))
    if len(result.per_image) > max_rows:
        lines.append(f"... {len(result.per_image) - max_rows} more in metrics.json")
    lines.append(f"{'mean':<{width}}  " + "  ".join(f"{result.mean.get(n, float('nan')):>8.4f}" for n in names))
    for key in ("FID", "KID"):
        if key in result.extra:
            extra = f" +- {result.extra['KID_std']:.5f}" if key == "KID" else ""
            lines.append(f"{key}: {result.extra[key]:.5f}{extra}")
    if "realism" in result.extra:
        lines.append(format_realism(result.extra["realism"]))
    if "fcn_score" in result.extra:
        lines += [fcn_line(result.extra["fcn_score"]), fcn_reference_line(result.extra["fcn_reference"])]
    seg = result.extra.get("segmentation")
    if seg:
        lines.append(f"segmentation: pixel accuracy {seg['pixel_accuracy']:.4f}, mean class accuracy "
                     f"{seg['mean_class_accuracy']:.4f}, mean IoU {seg['mean_IoU']:.4f}")
        for name, values in seg["per_class"].items():
            lines.append(f"  {name:<14} accuracy {values['accuracy']:.4f}  IoU {values['IoU']:.4f}")
    return lines
