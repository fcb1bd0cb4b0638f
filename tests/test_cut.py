"""CUT: PatchNCE against a hand-computed case, and the method through the whole life cycle."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pix2pix.api import resume, train
from pix2pix.config import load_config
from pix2pix.models.losses import patch_nce
from pix2pix.runs import checkpoints as ckpt

from conftest import tiny_overrides
from test_training import assert_same_state


def test_patch_nce_matches_a_hand_computed_case():
    # one image, two patches, 2-d unit features: query patch i should match key patch i
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[1.0, 0.0], [math.sqrt(0.5), math.sqrt(0.5)]])
    tau = 0.5
    # patch 0: positive q0.k0 = 1, negatives [q0.k0 masked -> -10, q0.k1 = sqrt(.5)]
    # patch 1: positive q1.k1 = sqrt(.5), negatives [q1.k0 = 0, q1.k1 masked -> -10]
    logits = torch.tensor([[1.0, -10.0, math.sqrt(0.5)], [math.sqrt(0.5), 0.0, -10.0]]) / tau
    expected = F.cross_entropy(logits, torch.zeros(2, dtype=torch.long))
    assert float(patch_nce(q, k, batch=1, tau=tau)) == pytest.approx(float(expected), rel=1e-6)
    manual = np.mean([-(1 / tau) + math.log(math.exp(1 / tau) + math.exp(-10 / tau) + math.exp(math.sqrt(0.5) / tau)),
                      -(math.sqrt(0.5) / tau) + math.log(math.exp(math.sqrt(0.5) / tau) + 1 + math.exp(-10 / tau))])
    assert float(patch_nce(q, k, batch=1, tau=tau)) == pytest.approx(manual, rel=1e-6)
    eye = torch.eye(2)
    assert float(patch_nce(eye, eye, 1, tau)) < float(patch_nce(eye.flip(0), eye, 1, tau))  # matching places win


def _cut_config(*extra: str):
    base = tiny_overrides(model__ngf=4, model__ndf=4, data__load_size=36, data__crop_size=32, cut__nce_patches=16,
                          train__val_every=2, train__sample_every=2)
    return load_config(None, base + ["model.method=cut", "model.generator=resnet_6blocks", "cut.nce_layers=0,4,8,10", *extra])


@pytest.mark.slow
def test_cut_trains_resumes_exactly_tests_and_exports_on_facades_mini(facades: Path, tmp_path: Path, cli):
    straight = train(_cut_config("train.max_steps=6"), facades, tmp_path / "straight", progress=False)
    train(_cut_config("train.max_steps=3"), facades, tmp_path / "split", progress=False)
    second = resume(tmp_path / "split", ["train.max_steps=6"], progress=False)
    assert straight.step == second.step == 6
    a = ckpt.load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = ckpt.load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    assert set(a["networks"]) == {"G", "D", "F"}
    assert_same_state(a, b)
    assert straight.best_val_l1 is not None  # facades-mini's sides pair by name: scored against the partners
    r = cli("test", tmp_path / "split", facades, "--no-progress")
    assert r.code == 0, r.err
    page = (tmp_path / "split" / "results" / "test" / "index.html").read_text()
    assert "real_A" in page and "fake_B" in page and "rec_A" not in page  # one way: no reconstruction column
    r = cli("translate", tmp_path / "split", facades / "testA", "--out", tmp_path / "out")
    assert r.code == 0 and len(list((tmp_path / "out").glob("*.png"))) == 11
    r = cli("export", tmp_path / "split", "--format", "weights", "--out", tmp_path / "g.safetensors")
    assert r.code == 0, r.err
    r = cli("check-data", facades, "--set", "model.method=cut")
    assert r.code == 0 and "unpaired" in r.out


def test_fastcut_has_no_identity_term(folder_data: Path, tmp_path: Path):
    import json

    train(load_config(None, tiny_overrides(model__ngf=4, model__ndf=4, cut__nce_patches=8) + [
        "model.method=cut", "model.generator=resnet_6blocks", "cut.nce_layers=0,4", "cut.lambda_nce=10",
        "cut.lambda_nce_idt=0", "train.max_steps=2"]), folder_data, tmp_path / "fast", progress=False)
    logged = [json.loads(line) for line in (tmp_path / "fast" / "log.jsonl").read_text().splitlines() if '"train"' in line]
    assert "loss_NCE" in logged[-1] and "loss_NCE_idt" not in logged[-1]
