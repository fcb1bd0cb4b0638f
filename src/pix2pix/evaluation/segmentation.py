"""Segmentation scores for photo -> label tasks, as the pix2pix paper evaluated (FCN-score style).

Output and target colours are mapped to the nearest class colour of a palette;
then per-pixel accuracy, per-class accuracy and per-class IoU over all images.
"""

from __future__ import annotations

import numpy as np

from ..data.palette import BUILT_IN, FACADES_PALETTE, Palette, load_palette

__all__ = ["BUILT_IN", "FACADES_PALETTE", "Palette", "confusion", "load_palette", "segmentation_scores"]

def confusion(palette: Palette, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(K, K) counts: rows = target class, columns = predicted class."""
    k = len(palette.names)
    t, p = palette.classify(target).ravel(), palette.classify(pred).ravel()
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def segmentation_scores(palette: Palette, matrix: np.ndarray) -> dict[str, object]:
    """Per-pixel accuracy, mean per-class accuracy, mean IoU, and per-class values (classes present in targets)."""
    total = matrix.sum()
    correct = np.diag(matrix)
    rows, cols = matrix.sum(1), matrix.sum(0)
    present = rows > 0
    class_acc = np.where(present, correct / np.maximum(rows, 1), np.nan)
    iou = np.where(present, correct / np.maximum(rows + cols - correct, 1), np.nan)
    return {
        "pixel_accuracy": float(correct.sum() / max(total, 1)),
        "mean_class_accuracy": float(np.nanmean(class_acc)) if present.any() else 0.0,
        "mean_IoU": float(np.nanmean(iou)) if present.any() else 0.0,
        "per_class": {name: {"accuracy": float(a), "IoU": float(i)} for name, a, i, ok in zip(palette.names, class_acc, iou, present) if ok},
    }
