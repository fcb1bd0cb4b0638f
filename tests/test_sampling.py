"""Several pictures per input, through every interface that asks the method whether it samples: the API
(``Translator.sample``), ``translate --samples / --seed / --z-from``, and exported graphs taking z."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pix2pix import Translator
from pix2pix.api import train
from pix2pix.config import load_config
from pix2pix.errors import ConfigError
from pix2pix.evaluation.sampling import diversity
from pix2pix.export import export_model
from pix2pix.inference import load_model
from pix2pix.metrics import l1

from conftest import make_folder_dataset, pattern_pair, require_or_skip, save, tiny_overrides


def tiny_run(root: Path, method: str, *extra: str) -> Path:
    data = make_folder_dataset(root / "data", {"train": 4, "test": 2})
    cfg = load_config(None, tiny_overrides(model__ngf=4, model__ndf=4, train__max_steps=3)
                      + [f"model.method={method}", *extra])
    train(cfg, data, root / "run", progress=False)
    return root / "run"


@pytest.fixture(scope="module")
def bicycle_run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("bicycle"), "bicyclegan", "bicyclegan.nef=4")


def picture(seed: int = 0, size: int = 40) -> np.ndarray:
    return pattern_pair(seed, size)[0]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_latent_samples_differ_and_the_seed_alone_decides_each_one(bicycle_run: Path):
    t = Translator.from_checkpoint(bicycle_run)
    three = [np.asarray(p) for p in t.sample(picture(), 3, seed=5)]
    assert all(distance(three[i], three[j]) > 0.5 for i in range(3) for j in range(i))
    again = [np.asarray(p) for p in t.sample(picture(), 2, seed=5)]
    assert all(np.array_equal(a, b) for a, b in zip(again, three))  # sample j: the same for any k
    other = np.asarray(t.sample(picture(), 1, seed=6)[0])
    assert distance(other, three[0]) > 0.5
    plain = t.translate_arrays([picture()])[0]  # no sample: the prior's mean
    assert all(distance(plain, s) > 0.5 for s in three)


def test_every_input_gets_sample_js_code_and_tiles_keep_it(bicycle_run: Path):
    whole = Translator.from_checkpoint(bicycle_run, scale="native", tile_size=0)
    tiled = Translator.from_checkpoint(bicycle_run, scale="native", tile_size=64)
    big = np.concatenate([np.concatenate([picture(i, 48) for i in range(4)], axis=1)] * 2, axis=0)  # 96 x 192
    one, both = whole.sample_arrays([big], 2, seed=1), whole.sample_arrays([picture(), big], 2, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(one[0], both[1]))
    by_tiles = tiled.sample_arrays([big], 2, seed=1)[0]
    for a, b in zip(one[0], by_tiles):
        assert distance(a, b) < 0.03 * 255
    assert distance(by_tiles[0], by_tiles[1]) > 0.5


def test_an_example_photos_code_sets_the_style(bicycle_run: Path, tmp_path: Path):
    t = Translator.from_checkpoint(bicycle_run)
    photo = pattern_pair(7)[1]
    code = t.style_code(photo)
    assert code.shape == (1, t.model.latent) and float(code.abs().sum()) > 0
    styled = t.translate_arrays([picture()], latent=code)[0]
    assert np.array_equal(styled, t.translate_arrays([picture()], latent=t.style_code(save(photo, tmp_path / "p.png")))[0])
    assert distance(styled, t.translate_arrays([picture()])[0]) > 0  # (3 steps of training: E's codes are small)
    assert not np.array_equal(styled, t.translate_arrays([picture()], latent=t.style_code(pattern_pair(8)[1]))[0])


def test_pix2pix_samples_through_dropout_in_per_image_mode_only(trained_run: Path):
    t = Translator.from_checkpoint(trained_run, norm="per_image")
    a, b = (np.asarray(p) for p in t.sample(picture(size=64), 2, seed=3))
    assert distance(a, b) > 0.05 and np.array_equal(a, np.asarray(t.sample(picture(size=64), 1, seed=3)[0]))
    with pytest.raises(ConfigError, match="--samples: in eval mode the generator has no noise"):
        Translator.from_checkpoint(trained_run, norm="eval").sample(picture(), 2)


def test_methods_that_do_not_sample_and_bad_counts_are_refused(tmp_path: Path, trained_run: Path):
    cyclegan = Translator.from_checkpoint(tiny_run(tmp_path, "cyclegan"))
    with pytest.raises(ConfigError, match="--samples: a cyclegan model gives one picture per input") as info:
        cyclegan.sample(picture(), 2)
    assert "\n" not in str(info.value)
    for k in (0, 65):
        with pytest.raises(ConfigError, match=f"--samples: {k} is not between 1 and 64"):
            Translator.from_checkpoint(trained_run).sample(picture(), k)
    with pytest.raises(ConfigError, match="--z-from: this model has no encoder"):
        Translator.from_checkpoint(trained_run).style_code(picture())
    export_model(trained_run, "torchscript", tmp_path / "p2p.pt")
    with pytest.raises(ConfigError, match="this exported model runs dropout as its expectation"):
        Translator(load_model(tmp_path / "p2p.pt")).sample(picture(), 2)
    from pix2pix.evaluation.testing import run_test

    with pytest.raises(ConfigError, match="--samples: a cyclegan model gives one picture per input"):
        run_test(tmp_path / "run", tmp_path / "data", out=tmp_path / "t", progress=False, samples=2)
    assert not (tmp_path / "t").exists()


def test_the_test_page_shows_and_scores_samples_by_default_for_a_latent_code(bicycle_run: Path, tmp_path: Path):
    from pix2pix.evaluation.testing import run_test

    result = run_test(bicycle_run, bicycle_run.parent / "data", out=tmp_path / "t", progress=False, seed=3)
    page = (result.folder / "index.html").read_text()
    assert all(f"_sample_{j}.png" in page for j in range(8)) and "_own_code.png" in page
    assert result.mean["diversity"] > 0 and result.mean["best_of_8_L1"] > 0 and "reconstruction_L1" in result.mean
    assert {"samples_detail_2px", "samples_grid_2px", "detail_2px"} <= set(result.realism)
    metrics = json.loads((result.folder / "metrics.json").read_text())
    key = next(iter(metrics["images"]))
    samples = [load_png(result.folder / "images" / f"{key}_sample_{j}.png") for j in range(8)]
    target = load_png(result.folder / "images" / f"{key}_target.png")
    assert metrics["images"][key]["best_of_8_L1"] == pytest.approx(min(l1(s, target) for s in samples), abs=1e-9)
    assert metrics["images"][key]["diversity"] == pytest.approx(diversity(samples), abs=1e-9)
    again = run_test(bicycle_run, bicycle_run.parent / "data", out=tmp_path / "u", progress=False, seed=3, samples=1)
    assert "diversity" not in again.mean and again.mean["best_of_1_L1"] > 0
    assert np.array_equal(load_png(again.folder / "images" / f"{key}_sample_0.png"), samples[0])


def test_diversity_is_the_mean_pairwise_l1_and_zero_for_identical_samples():
    a, b, c = (np.full((4, 4, 3), v, np.uint8) for v in (0, 51, 102))
    assert diversity([a, a, a]) == 0
    assert diversity([a, b, c]) == pytest.approx((0.2 + 0.4 + 0.2) / 3)
    with pytest.raises(ValueError):
        diversity([a])


def test_translate_writes_k_pictures_per_input_and_refuses_bad_options(bicycle_run: Path, trained_run: Path,
                                                                      tmp_path: Path, cli):
    inputs = tmp_path / "in"
    save(picture(1), inputs / "a.png"), save(picture(2), inputs / "b.png")
    r = cli("translate", bicycle_run, inputs, "--out", tmp_path / "out", "--samples", "3", "--seed", "4")
    assert r.code == 0, r.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{n}_{j}.png" for n in "ab" for j in range(3)]
    api = Translator.from_checkpoint(bicycle_run, seed=4).sample(inputs / "b.png", 3)
    assert np.array_equal(np.asarray(api[2]), np.asarray(load_png(tmp_path / "out" / "b_2.png")))
    r = cli("translate", bicycle_run, inputs, "--out", tmp_path / "styled", "--z-from", inputs / "a.png")
    assert r.code == 0 and sorted(p.name for p in (tmp_path / "styled").iterdir()) == ["a.png", "b.png"]
    (tmp_path / "notes.png").write_text("not an image")
    for args, message in [
        (["--samples", "0"], "--samples: 0 is not between 1 and 64"),
        (["--z-from", tmp_path / "notes.png"], "notes.png"),
        (["--z-from", inputs / "a.png", "--samples", "2"], "--z-from gives one picture per input"),
    ]:
        r = cli("translate", bicycle_run, inputs, "--out", tmp_path / "refused", *args)
        assert r.code != 0 and message in r.err and len(r.err.strip().splitlines()) == 1, r.err
    r = cli("translate", trained_run, inputs, "--out", tmp_path / "refused", "--samples", "2", "--norm", "eval")
    assert r.code != 0 and "in eval mode the generator has no noise" in r.err
    assert not (tmp_path / "refused").exists()


def load_png(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path))


def _onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("fmt, name", [("onnx", "m.onnx"), ("torchscript", "m.pt"), ("weights", "m.safetensors")])
def test_exported_graphs_take_z_as_a_second_input(bicycle_run: Path, tmp_path: Path, fmt: str, name: str):
    if fmt == "onnx":
        require_or_skip(_onnx_available(), "onnxruntime/onnxscript not installed (pix2pix[export])")
    result = export_model(bicycle_run, fmt, tmp_path / name)
    assert result.metadata["latent"] == 8 and result.max_diff < 1e-4  # checked with two codes
    exported = Translator(load_model(tmp_path / name))
    run = Translator.from_checkpoint(bicycle_run, precision="fp32")
    for got, want in zip(exported.sample(picture(), 2, seed=2), run.sample(picture(), 2, seed=2)):
        assert distance(np.asarray(got), np.asarray(want)) < 1.0
    assert distance(*(np.asarray(p) for p in exported.sample(picture(), 2, seed=2))) > 0.5


# ---------------------------------------------------------------------- the server and its page

def served(run: Path, **options):
    from fastapi.testclient import TestClient

    from pix2pix.serve.app import ServeOptions, create_app

    return TestClient(create_app(run, ServeOptions(precision="fp32", **options)))


def decoded(images: list[str]) -> list[np.ndarray]:
    import base64
    import io

    from PIL import Image

    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB")) for text in images]


def encoded(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_server_returns_k_samples_from_a_seed_and_refuses_bad_counts(bicycle_run: Path, trained_run: Path):
    serve_or_skip()
    body = encoded(picture(3))
    with served(bicycle_run) as client:
        info = client.get("/info").json()
        assert info["sampling"] == "latent" and info["can_sample"] is True
        r = client.post("/translate?samples=3&seed=7", content=body)
        assert r.status_code == 200 and r.json()["seed"] == 7
        got = decoded(r.json()["images"])
        want = Translator.from_checkpoint(bicycle_run, precision="fp32").sample_arrays([picture(3)], 3, seed=7)[0]
        assert len(got) == 3 and all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(got, want))
        unseeded = client.post("/translate?samples=1", content=body).json()
        assert decoded(unseeded["images"])[0].shape == (40, 40, 3) and isinstance(unseeded["seed"], int)
        for query, message in [("samples=9", "samples: 9 is not between 1 and 8"),
                               ("samples=0", "samples: 0 is not between 1 and 8")]:
            r = client.post(f"/translate?{query}", content=body)
            assert r.status_code == 400 and r.json()["error"] == message
    with served(trained_run, norm="eval") as client:
        assert client.get("/info").json()["can_sample"] is False
        r = client.post("/translate?samples=2", content=body)
        assert r.status_code == 400 and "in eval mode the generator has no noise" in r.json()["error"]


def serve_or_skip() -> None:
    from conftest import IN_CI

    if not IN_CI:  # in CI a missing extra must fail, not skip
        pytest.importorskip("fastapi")


def test_the_pages_new_variation_button_shows_the_sample_of_a_fresh_seed(bicycle_run: Path, tmp_path: Path):
    serve_or_skip()
    from browser import browser_page
    from test_serve import _shown_output, serving

    photo_in = picture(5)
    with serving(bicycle_run) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=15000)
        assert page.locator("#variation").is_visible()
        page.set_input_files("#upload", str(save(photo_in, tmp_path / "in.png")))
        page.wait_for_function("document.getElementById('status').textContent.includes('press Translate')")
        shown = []
        for count in (1, 2):
            page.click("#variation")
            page.wait_for_function(f"document.body.dataset.translated === '{count}'", timeout=30000)
            seed = int(page.inner_text("#status").rsplit("seed ", 1)[1].rstrip(")"))
            shown.append((seed, _shown_output(page)))
    t = Translator.from_checkpoint(bicycle_run, precision="fp32")
    for seed, output in shown:
        assert np.abs(output - t.sample_arrays([photo_in], 1, seed=seed)[0][0].astype(np.int16)).max() <= 1
    assert shown[0][0] != shown[1][0] and distance(shown[0][1], shown[1][1]) > 0.5
