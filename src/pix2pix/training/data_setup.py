"""The data a run trains on: pairs, photos to derive pairs from, or two unpaired collections, with their
validator; each kind's problems reported once, as one line each."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from ..config import Config
from ..data.datasets import PairDataset
from ..data.palette import input_palette
from ..data.photos import HeldOutPairs, PhotoTaskDataset, open_photos, refuse_photo_folder
from ..data.photos import input_channels as photo_input_channels
from ..data.sources import (PairSource, available_splits, holdout_indices, holdout_split, left_out_warning, open_pairs,
                            summarize_problems)
from ..data.transforms import PairTransform
from ..data.unpaired import SubsetImages, UnpairedDataset, open_unpaired, side_warning
from ..errors import ConfigError, DataError, shown
from ..methods import method_class
from ..runs import checkpoints as ckpt
from .validation import CycleValidator, PairValidator, TranslationValidator, Validator


@dataclass
class TrainingData:
    dataset: Dataset
    validator: Validator
    channels: tuple[int, int]  # model (input, output) = (A, B) after direction
    input_palette: list[list[int]] | None = None  # class colours when the inputs are label maps


def warn(message: str | None) -> None:
    if message:
        print(message, file=sys.stderr)


def _note_skipped(skipped: list[Path]) -> None:
    if skipped:
        names = sorted({p.name for p in skipped})
        warn(f"note: ignored {len(skipped)} non-image file(s) ({', '.join(names[:3])})")


def paired_training_data(cfg: Config, data: str | Path, paths: ckpt.RunPaths, progress: bool = True) -> TrainingData:
    """pix2pix: train pairs + val split (or a held-out slice of train), problems reported once."""
    refuse_photo_folder(data)
    train_source = open_pairs(data, "train", cfg.data, progress=progress)
    warn(summarize_problems(train_source, data))
    _note_skipped(train_source.report.skipped)
    if len(train_source) == 0:
        raise DataError(f"{shown(data)}: no usable training pairs (run 'pix2pix check-data {shown(data)}')")
    val_source: PairSource | None = None
    if "val" in available_splits(data):
        val_source = open_pairs(data, "val", cfg.data, progress=progress)
        warn(summarize_problems(val_source, data))
        if len(val_source) == 0:
            val_source = None
    if val_source is None:
        train_source, val_source = holdout_split(train_source, cfg.data.val_fraction)
    a, b = train_source.channels
    channels = (a, b) if cfg.data.direction == "AtoB" else (b, a)
    dataset = PairDataset(train_source, PairTransform.from_config(cfg.data), cfg.data.direction, cfg.train.seed)
    palette = input_palette(train_source, cfg.data.direction)
    return TrainingData(dataset, PairValidator(cfg, val_source, paths), channels, palette)


def unpaired_training_data(cfg: Config, data: str | Path, paths: ckpt.RunPaths, progress: bool = True) -> TrainingData:
    """Unpaired methods: A and B images drawn independently; validation on a val split or held-out images."""
    a, b = open_unpaired(data, "train", cfg.data, progress=progress)
    for side in (a, b):
        warn(side_warning(side, data, cfg.model.method))
        _note_skipped(side.report.skipped)
        if len(side) == 0:
            raise DataError(f"{shown(data)}: no usable training images in {side.report.name}")
    if "val" in available_splits(data):
        val_a, val_b = open_unpaired(data, "val", cfg.data, progress=progress)
    else:
        (keep_a, held_a), (keep_b, held_b) = (holdout_indices(len(s), cfg.data.val_fraction) for s in (a, b))
        a, val_a = SubsetImages(a, keep_a), SubsetImages(a, held_a)
        b, val_b = SubsetImages(b, keep_b), SubsetImages(b, held_b)
    if cfg.data.direction == "BtoA":
        a, b, val_a, val_b = b, a, val_b, val_a
    dataset = UnpairedDataset(a, b, PairTransform.from_config(cfg.data), cfg.train.seed, cfg.data.serial)
    round_trip = method_class(cfg.model.method).round_trip  # two generators that invert each other: score the cycle
    validator = (CycleValidator if round_trip else TranslationValidator)(cfg, val_a, val_b, paths)
    return TrainingData(dataset, validator, (a.channels, b.channels))


def photo_training_data(cfg: Config, data: str | Path, paths: ckpt.RunPaths, progress: bool = True) -> TrainingData:
    """Photo tasks: the photos of the train split, the input made from each after the jitter;
    validation on a val split or held-out photos, with inputs drawn from each file's path."""
    photos = open_photos(data, "train", cfg.data, progress=progress)
    warn(left_out_warning(photos.report.problems, photos.report.name, data, f" --task {cfg.data.task}"))
    _note_skipped(photos.report.skipped)
    if len(photos) == 0:
        raise DataError(f"{shown(data)}: no usable training photos (run 'pix2pix check-data {shown(data)} --task {cfg.data.task}')")
    if "val" in available_splits(data):
        val = open_photos(data, "val", cfg.data, progress=progress)
    else:
        keep, held = holdout_indices(len(photos), cfg.data.val_fraction)
        photos, val = SubsetImages(photos, keep), SubsetImages(photos, held)
    dataset = PhotoTaskDataset(photos, PairTransform.from_config(cfg.data), cfg.data, cfg.train.seed)
    channels = (photo_input_channels(cfg.data.task), 3)
    return TrainingData(dataset, PairValidator(cfg, HeldOutPairs(val, cfg.data) if len(val) else None, paths), channels)


def open_training_data(cfg: Config, data: str | Path, paths: ckpt.RunPaths, progress: bool = True) -> TrainingData:
    """The data the configured method and task need: pairs, photos to derive pairs from, or two collections."""
    kind = method_class(cfg.model.method).data_kind
    if cfg.data.task != "paired":
        if kind != "paired":
            raise ConfigError(f"data.task={cfg.data.task} makes pairs from photos: it needs a paired method (model.method)")
        return photo_training_data(cfg, data, paths, progress)
    if kind == "unpaired":
        return unpaired_training_data(cfg, data, paths, progress)
    return paired_training_data(cfg, data, paths, progress)
