"""`pix2pix bench --quality`: the frozen paper reference is pinned, and the quick mode runs end to end as CI runs it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from paper_reference import RECIPE, PaperRecipe, unet_depth  # noqa: E402
from quality import pooled_gap, summarise, time_to_quality  # noqa: E402


def test_the_reference_is_the_papers_recipe_and_reads_no_project_default():
    assert RECIPE == {
        "generator": "unet (research UnetGenerator, transposed convolutions)", "norm": "batch", "dropout": 0.5,
        "discriminator": "70x70 PatchGAN (NLayerDiscriminator, n_layers=3)", "gan_loss": "vanilla (BCE with logits)",
        "lambda_l1": 100.0, "lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 1, "precision": "fp32", "init_gain": 0.02,
        "load_to_crop": 286 / 256, "flip": True, "test_mode": "train (batch statistics, dropout on)",
    }
    assert unet_depth(128) == 7 and unet_depth(256) == 8
    recipe = PaperRecipe(128, seed=0)
    modules = list(recipe.G.modules())
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in modules)
    assert not any(isinstance(m, (torch.nn.Upsample, torch.nn.PixelShuffle)) for m in modules)
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in modules) == 2  # unet_128: depth - 5 blocks
    assert sum(p.numel() for p in recipe.D.parameters()) == 2_768_705  # the 70x70 PatchGAN on 6 channels
    assert all(g["lr"] == 2e-4 and g["betas"] == (0.5, 0.999) for o in (recipe.opt_G, recipe.opt_D) for g in o.param_groups)
    assert all(p.dtype == torch.float32 for p in recipe.G.parameters())
    for name in ("paper_reference.py", "research_nets.py", "reference.py"):  # the reference imports nothing of ours
        tree = ast.parse((REPO / "benchmarks" / name).read_text())
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m.split(".")[0] == "pix2pix" for m in imported), name


def test_summary_gap_and_time_to_quality():
    assert pooled_gap([1.0, 1.2], [2.0, 2.2]) == pytest.approx(1.0 / np.std([1.0, 1.2], ddof=1))
    assert pooled_gap([1.0], [2.0]) is None
    values = [0.3, 0.1, 0.1, 0.4, 0.4, 0.1, 0.1, 0.1]  # dips below early, comes back up, then stays down
    curves = [[(10 * (i + 1), v) for i, v in enumerate(values)]] * 2
    assert time_to_quality(curves, 0.19) == 70  # smoothed: .23 .17 .20 .30 .30 .20 .10 .10: below for good from 70 s
    assert time_to_quality(curves, 0.01) is None
    run = {"steps": 1, "startup_s": 0.0, "val_L1": 0.2, "curve": [(10, 0.1)]}
    cached_ref = {**run, "scores": {"L1": 0.2, "detail_2px": 1.0}}  # a cached run without a newer measure
    ours = {**run, "scores": {"L1": 0.1, "detail_2px": 0.5, "grid_2px": 0.1}}
    summary = summarise("BtoA", {"ref": [cached_ref], "ours": [ours]})
    assert summary["L1"]["ours"] == (0.1, 0.0) and summary["L1"]["gap_sd"] is None  # one seed a side: no spread
    assert summary["grid_2px"] == {"reference": None, "ours": (0.1, 0.0), "gap_sd": None}  # shown, never compared


def _aligned(facades: Path, root: Path) -> Path:
    """facades-mini's A and B folders as aligned A|B files in train/ and test/, as the benchmark reads them."""
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for a in sorted((facades / f"{split}A").glob("*.jpg")):  # trainA/N_A.jpg <-> trainB/N_B.jpg, testA/N.jpg <-> testB/N.jpg
            left = Image.open(a).convert("RGB")
            right = Image.open(facades / f"{split}B" / a.name.replace("_A.", "_B.")).convert("RGB").resize(left.size)
            both = Image.new("RGB", (left.width * 2, left.height))
            both.paste(left, (0, 0))
            both.paste(right, (left.width, 0))
            both.save(root / split / a.name.replace("_A.", "."), quality=95)
    return root


def _quick(data: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pix2pix", "bench", "--quality", "--quick", "--data", str(data),
                           "--budget", "6", "--val-every", "5", "--palette", "facades", "--segmenter-cache",
                           str(tmp_path / "segmenters"), *extra], capture_output=True, text=True, cwd=tmp_path,
                          timeout=900)


@pytest.mark.slow
def test_quick_mode_trains_both_sides_writes_the_table_json_and_grid_and_resumes(facades: Path, tmp_path: Path):
    data = _aligned(facades, tmp_path / "aligned")
    figures, grid, store = tmp_path / "quality.json", tmp_path / "grid.png", tmp_path / "runs"
    r = _quick(data, tmp_path, "--json", str(figures), "--grid", str(grid), "--out", str(store))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "quality at equal wall-clock (6 s of training each)" in r.stdout
    line = json.loads(r.stdout.strip().splitlines()[-1])
    assert line["quick"] is True and set(line["quality"]) == {"BtoA"}
    written = json.loads(figures.read_text())["directions"]["BtoA"]
    for side in ("ref", "ours"):
        (run,) = written["runs"][side]
        assert run["steps"] > 0 and 0 < run["scores"]["L1"] < 1 and run["scores"]["detail_2px"] > 0
        assert {"detail_2px", "detail_16px", "grid_2px", "grid_16px", "fcn_pixel_accuracy", "fcn_mean_IoU"} <= set(run["scores"])
    assert written["fcn_reference"]["real_pixel_accuracy"] > 0 and "FCN-score judge" in r.stdout
    ours = written["runs"]["ours"][0]
    # stopped by its time budget (a ratio, not a wall-clock window: the last step may run long on a busy machine)
    assert ours["budget_s"] == 6 and 6 <= ours["train_seconds"] < 6 + ours["train_seconds"] / ours["steps"] * 3 + 1
    assert ours["other_norm"]["norm"] in ("per_image", "eval") and ours["curve"]
    picture = np.asarray(Image.open(grid))
    assert picture.shape[:2] == (4 * 66 - 2, 4 * 66 - 2)  # input | reference | ours | target for 4 test images, 64 px
    assert picture.std() > 5  # real pictures, not a blank canvas

    records = sorted(p.name for p in store.iterdir())
    assert records == ["aligned_BtoA_ours_seed0.json", "aligned_BtoA_ours_seed0.npz", "aligned_BtoA_ours_seed0.val.npz",
                       "aligned_BtoA_ref_seed0.json", "aligned_BtoA_ref_seed0.npz", "aligned_BtoA_ref_seed0.val.npz"]
    for side in ("ref", "ours"):  # options are chosen on the validation list: its own scores, every measure
        val_scores = written["runs"][side][0]["val_scores"]
        assert set(val_scores) == set(written["runs"][side][0]["scores"]) and val_scores != written["runs"][side][0]["scores"]
    again = _quick(data, tmp_path, "--json", str(tmp_path / "again.json"), "--out", str(store))
    assert again.returncode == 0 and again.stderr.count("done before") == 2, again.stderr[-2000:]
    assert json.loads((tmp_path / "again.json").read_text())["directions"]["BtoA"]["runs"] == written["runs"]

    record = json.loads((store / "aligned_BtoA_ours_seed0.json").read_text())
    assert record["identity"]["cpu"] and record["scorer"].startswith("realism-2+fcn-aligned-") and record["commit"]
    scored_only = _quick(data, tmp_path, "--out", str(store), "--score-only")
    assert scored_only.returncode == 0 and scored_only.stderr.count("done before") == 2
    record["identity"]["cpu"] = "another CPU"
    (store / "aligned_BtoA_ours_seed0.json").write_text(json.dumps(record))
    mixed = _quick(data, tmp_path, "--out", str(store))
    assert mixed.returncode != 0 and "another cpu" in mixed.stderr and "never mixed" in mixed.stderr


@pytest.mark.slow
def test_another_method_against_our_defaults_with_samples_scored_on_both_sides(facades: Path, tmp_path: Path):
    data = _aligned(facades, tmp_path / "aligned")
    figures, grid, store = tmp_path / "quality.json", tmp_path / "grid.png", tmp_path / "runs"
    r = _quick(data, tmp_path, "--baseline", "defaults", "--set", "model.method=bicyclegan", "--samples", "3",
               "--json", str(figures), "--grid", str(grid), "--out", str(store))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "pix2pix defaults" in r.stdout and "samples_fcn_pixel_accuracy" in r.stdout
    runs = json.loads(figures.read_text())["directions"]["BtoA"]["runs"]
    base, ours = runs["ref"][0]["scores"], runs["ours"][0]["scores"]
    for scores in (base, ours):  # pix2pix samples through dropout, bicyclegan through its code
        assert scores["diversity"] > 0 and 0 < scores["best_of_3_L1"] < 1
        assert {"samples_detail_2px", "samples_grid_2px", "samples_fcn_mean_IoU"} <= set(scores)
    assert "reconstruction_L1" in ours and "reconstruction_L1" not in base  # only bicyclegan has an encoder
    assert sorted(p.name for p in store.glob("*.json")) == ["aligned_BtoA_base_seed0.json", "aligned_BtoA_ours_seed0.json"]
    assert (store / "aligned_BtoA_ours_seed0.own_code.npz").exists()
    picture = np.asarray(Image.open(grid.with_name("grid_samples.png")))
    assert picture.shape[:2] == (4 * 66 - 2, 5 * 66 - 2) and picture.std() > 5  # input | 3 samples | target
    refused = _quick(data, tmp_path, "--baseline", "defaults", "--reference-cache", str(tmp_path / "cache"))
    assert refused.returncode == 2 and "--reference-cache" in refused.stderr


def test_a_run_scored_by_an_older_scorer_is_rescored_from_its_outputs(tmp_path: Path):
    from quality import RunStore, save_outputs, scorer_version

    store = RunStore(tmp_path, strict=True)
    identity, scorer = {"cpu": "x", "code": "abc"}, scorer_version()
    store.write("k", identity, "realism-1", {"steps": 3, "scores": {"checkerboard": 1.0}})
    assert store.finished("k", identity, "realism-1", lambda r, o, path: 1 / 0) is None  # no outputs kept: run it again
    save_outputs(store.paths("k")[1], [np.full((8, 8, 3), 7, np.uint8)])
    done = store.finished("k", identity, "realism-1", lambda r, o, path: 1 / 0)
    assert done["result"] == {"steps": 3, "scores": {"checkerboard": 1.0}}
    rescored = store.finished("k", identity, scorer, lambda r, o, path: {**r, "scores": {"n": len(o), "mean": float(o[0].mean())}})
    assert rescored["result"] == {"steps": 3, "scores": {"n": 1, "mean": 7.0}}
    assert json.loads(store.paths("k")[0].read_text())["scorer"] == scorer == "realism-2"
    assert RunStore(tmp_path, strict=False).finished("k", {"cpu": "y", "code": "abc"}, scorer, None) is None  # a cache
    with pytest.raises(SystemExit, match="another code"):
        store.finished("k", {"cpu": "x", "code": "new"}, scorer, None)
    assert store.finished("k", {"cpu": "x", "code": "new"}, scorer, None, ignore=("code",))["identity"]["code"] == "abc"


@pytest.mark.parametrize("option", [["--seeds", "0"], ["--budget", "-5"], ["--size", "8"]])
def test_absurd_options_are_one_line_errors_before_any_training(option: list[str]):
    r = subprocess.run([sys.executable, "-m", "pix2pix", "bench", "--quality", *option], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and r.stderr.startswith(f"error: {option[0]}")


def test_the_screen_table_is_the_mean_of_each_candidates_validation_scores(tmp_path: Path, capsys):
    import recipe_screen
    from quality import RunStore

    def record(folder: str, side: str, seed: int, l1: float, overrides: list[str]) -> None:
        RunStore(tmp_path / folder, strict=True).write(
            f"facades_BtoA_{side}_seed{seed}", {"seed": seed, "overrides": overrides},
            "realism-2", {"steps": 100 + seed, "scores": {"L1": 9.0}, "val_scores": {"L1": l1, "grid_2px": -l1}})

    (tmp_path / "reference").mkdir()
    (tmp_path / "ema0").mkdir()
    record("reference", "ref", 0, 0.2, [])
    record("ema0", "ours", 0, 0.1, ["train.ema_decay=0"])
    record("ema0", "ours", 1, 0.3, ["train.ema_decay=0"])
    rows = {row["name"]: row for row in recipe_screen.table(tmp_path, ["ema0", "vanilla"])}
    assert set(rows) == {"reference", "ema0"}  # a candidate without runs is left out
    assert rows["ema0"]["seeds"] == 2 and rows["ema0"]["L1"][0] == pytest.approx(0.2)  # validation, not test scores
    assert rows["ema0"]["grid_2px"][0] == pytest.approx(-0.2) and rows["ema0"]["steps"] == 100.5
    assert "ema0" in capsys.readouterr().out
    assert recipe_screen.main(["--only", "nonsense", "--out", str(tmp_path)]) == 2
