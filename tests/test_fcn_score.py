"""The FCN-score judge: trained once on real training photos, cached by what it learnt from, and it scores
real photos above blurred ones and both above the majority-class floor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix.evaluation.fcn_score import QUICK, class_map, segmenter_for, training_hash
from pix2pix.evaluation.segmentation import load_palette

RECIPE = replace(QUICK, steps=300)  # about 15 s on 2 cores; a weak judge, enough to order real above blurred


def _pairs(facades: Path, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(photo, label map) of facades-mini: A = photo, B = label map (trainB/N_B.jpg pairs with trainA/N_A.jpg)."""
    pairs = []
    for a in sorted((facades / f"{split}A").glob("*.jpg")):
        b = facades / f"{split}B" / a.name.replace("_A.", "_B.")
        pairs.append((np.asarray(Image.open(a).convert("RGB")), np.asarray(Image.open(b).convert("RGB"))))
    return pairs


@pytest.fixture(scope="module")
def judge_and_cache(tmp_path_factory):  # noqa: ANN201
    from conftest import require_or_skip

    facades = Path(__file__).resolve().parents[2] / "shared" / "data" / "facades-mini"
    require_or_skip(facades.is_dir(), f"real data not found at {facades}")
    cache = tmp_path_factory.mktemp("segmenters")
    return segmenter_for(_pairs(facades, "train"), load_palette("facades"), name="mini", recipe=RECIPE, cache=cache,
                         progress=False), cache, facades


def test_real_photos_score_above_blurred_ones_and_above_the_majority_class(judge_and_cache):
    judge, _, facades = judge_and_cache
    test = _pairs(facades, "test")
    reference = judge.reference_scores([p for p, _ in test], [m for _, m in test])
    assert reference["real_pixel_accuracy"] > reference["blurred_pixel_accuracy"] + 0.01
    assert reference["real_pixel_accuracy"] > reference["majority_class_rate"] + 0.02
    assert reference["real_mean_IoU"] > reference["blurred_mean_IoU"] + 0.005
    # a flat grey picture is read as one class: the floor the judge must beat
    grey = judge.scores([np.full_like(p, 128) for p, _ in test], [m for _, m in test])
    assert grey["fcn_pixel_accuracy"] < reference["real_pixel_accuracy"] - 0.02


def test_the_judge_is_cached_by_its_training_data_and_reloads_identically(judge_and_cache):
    judge, cache, facades = judge_and_cache
    train, test = _pairs(facades, "train"), _pairs(facades, "test")
    (folder,) = cache.iterdir()
    assert folder.name == judge.info["key"] and folder.name.startswith("mini-")
    again = segmenter_for(train, load_palette("facades"), name="mini", recipe=RECIPE, cache=cache, progress=False)
    photos, maps = [p for p, _ in test], [m for _, m in test]
    assert again.scores(photos, maps) == judge.scores(photos, maps)
    assert len(list(cache.iterdir())) == 1  # loaded, not trained again
    palette = load_palette("facades")
    assert training_hash(train, palette, RECIPE) != training_hash(train[1:], palette, RECIPE)  # other data, other judge
    assert training_hash(train, palette, RECIPE) != training_hash(train, palette, replace(RECIPE, seed=1))


def test_label_maps_are_read_through_the_palette_at_their_own_size():
    palette = load_palette("facades")
    label_map = np.zeros((8, 8, 3), np.uint8)
    label_map[:, :4] = palette.colors[2] + [6, -6, -6]  # JPEG-like noise: still the nearest colour
    label_map[:, 4:] = palette.colors[5]
    assert class_map(palette, label_map, 4).tolist() == [[2, 2, 5, 5]] * 4


def test_evaluate_fcn_score_of_the_real_photos_is_the_ceiling(judge_and_cache, tmp_path: Path, cli):
    _, cache, facades = judge_and_cache
    common = ("--fcn-score", "facades", "--fcn-recipe", "quick", "--segmenter-cache", tmp_path / "seg", "--no-progress")
    r = cli("evaluate", "--pred", facades / "testA", "--target", facades / "testA", "--labels", facades / "testB",
            "--train-data", facades, "--out", tmp_path / "m.json", *common)
    assert r.code == 0, r.err
    written = __import__("json").loads((tmp_path / "m.json").read_text())
    scores, reference = written["fcn_score"], written["fcn_reference"]
    assert scores["fcn_pixel_accuracy"] == reference["real_pixel_accuracy"]  # the real photos are the ceiling
    assert reference["real_pixel_accuracy"] > reference["blurred_pixel_accuracy"]
    assert "FCN-score: pixel accuracy" in r.out and "majority class" in r.out
    r = cli("evaluate", "--pred", facades / "testA", "--target", facades / "testA", *common)
    assert r.code != 0 and "--fcn-score: needs --labels" in r.err and r.err.strip().count("\n") == 0
    empty = tmp_path / "other_labels"
    empty.mkdir()
    (empty / "unrelated.png").write_bytes((facades / "testB" / "1.jpg").read_bytes())
    r = cli("evaluate", "--pred", facades / "testA", "--target", facades / "testA", "--labels", empty,
            "--train-data", facades, "--segmenter-cache", tmp_path / "never", *common[:4], "--no-progress")
    assert r.code != 0 and "no label map named like" in r.err and not (tmp_path / "never").exists()  # before training


@pytest.mark.slow
def test_pix2pix_test_fcn_score_on_a_trained_labels_to_photo_run(tmp_path: Path, cli, judge_and_cache):
    _, _, facades = judge_and_cache
    run = tmp_path / "R"
    r = cli("train", facades, "--out", run, "--no-progress", "--set", "data.direction=BtoA", "--set", "data.load_size=72",
            "--set", "data.crop_size=64", "--set", "train.max_steps=4", "--set", "model.ngf=8", "--set", "model.ndf=8")
    assert r.code == 0, r.err
    r = cli("test", run, facades, "--no-progress", "--fcn-score", "facades", "--fcn-recipe", "quick",
            "--segmenter-cache", tmp_path / "seg")
    assert r.code == 0, r.err
    metrics = __import__("json").loads((run / "results" / "test" / "metrics.json").read_text())
    assert {"fcn_pixel_accuracy", "fcn_class_accuracy", "fcn_mean_IoU", "detail_2px"} <= set(metrics["realism"])
    assert 0 <= metrics["realism"]["fcn_mean_IoU"] <= metrics["realism"]["fcn_pixel_accuracy"] <= 1
    assert metrics["fcn_reference"]["segmenter"]["pairs"] == 11  # trained on the 11 train pairs, never the test ones
    assert "FCN-score judge" in (run / "results" / "test" / "index.html").read_text() and "FCN-score:" in r.out
    r = cli("test", run, facades, "--no-progress", "--fcn-score", "nonsense.json", "--fcn-recipe", "quick")
    assert r.code != 0 and "--palette nonsense.json" in r.err
