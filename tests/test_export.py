"""Export to ONNX / TorchScript / safetensors, and import from the research code."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix import Translator
from pix2pix.errors import CheckpointError, ConfigError
from pix2pix.export import export_model
from pix2pix.model_files import load_exported
from pix2pix.research_import import import_research_generator, research_unet_names

from conftest import require_or_skip
from research_nets import ResnetGenerator, UnetGenerator


def _onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("fmt, name", [("onnx", "m.onnx"), ("torchscript", "m.pt"), ("weights", "m.safetensors")])
def test_export_round_trip(trained_run: Path, tmp_path: Path, fmt: str, name: str, cli):
    if fmt == "onnx":
        require_or_skip(_onnx_available(), "onnxruntime/onnxscript not installed (pix2pix[export])")
    out = tmp_path / name
    r = cli("export", trained_run, "--format", fmt, "--out", out)
    assert r.code == 0, r.err
    assert "max difference to PyTorch on a test input" in r.out
    result_line = r.out.strip().splitlines()[-1]
    assert float(result_line.rsplit(" ", 1)[1]) <= 1e-3
    meta = load_exported(out).metadata
    assert meta["direction"] == "AtoB" and meta["input_channels"] == 3 and meta["size_multiple"] == 64
    assert meta["method"] == "pix2pix" and meta["inference_norm"] == "per_image" and "normalization" in meta
    # translate accepts the exported file, at any size; dynamic batch, height and width
    img = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "img.png")
    r = cli("translate", out, tmp_path / "img.png", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    assert Image.open(tmp_path / "o" / "img.png").size == (300, 200)
    exported = load_exported(out)
    for shape in [(1, 3, 64, 64), (3, 3, 128, 192)]:
        assert tuple(exported.net(torch.zeros(shape)).shape) == (shape[0], 3, *shape[2:])


def test_exported_outputs_match_the_run(trained_run: Path, tmp_path: Path):
    img = np.random.default_rng(1).integers(0, 255, (64, 128, 3), dtype=np.uint8)
    for norm in ("per_image", "eval"):
        out = tmp_path / f"{norm}.safetensors"
        export_model(trained_run, "weights", out, norm=norm)
        from_run = Translator.from_checkpoint(trained_run, norm=norm)
        if norm == "per_image":  # exported graphs run dropout as its expectation
            for module in from_run.net.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = 0.0
        a = np.asarray(from_run(img), np.int16)
        b = np.asarray(Translator.from_checkpoint(out)(img), np.int16)
        assert np.abs(a - b).max() <= 1


def test_fp16_weights_are_half_the_size(trained_run: Path, tmp_path: Path):
    full, half = tmp_path / "f.safetensors", tmp_path / "h.safetensors"
    export_model(trained_run, "weights", full)
    result = export_model(trained_run, "weights", half, fp16=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    assert result.max_diff < 5e-2
    assert json.loads(json.dumps(load_exported(half).metadata))["weights_dtype"] == "float16"


def test_export_errors(trained_run: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match="must end in .onnx"):
        export_model(trained_run, "onnx", tmp_path / "m.bin")
    with pytest.raises(ConfigError, match="--fp16 applies to --format weights"):
        export_model(trained_run, "torchscript", tmp_path / "m.pt", fp16=True)
    with pytest.raises(ConfigError, match="not one of"):
        export_model(trained_run, "tflite", tmp_path / "m.tflite")
    with pytest.raises(ConfigError, match="fixed at export"):
        export_model(trained_run, "weights", tmp_path / "w.safetensors")
        Translator.from_checkpoint(tmp_path / "w.safetensors", norm="eval")


def test_research_unet_names_cover_every_layer():
    names = research_unet_names(8)
    research = UnetGenerator(3, 3, 8, ngf=4)
    research_prefixes = {k.rsplit(".", 1)[0] for k in research.state_dict()}
    assert set(names.values()) == research_prefixes


@pytest.mark.parametrize("generator, depth", [("unet_256", 8), ("unet_128", 7)])
def test_import_research_unet(tmp_path: Path, generator: str, depth: int, cli):
    torch.manual_seed(0)
    research = UnetGenerator(3, 3, depth, ngf=8, use_dropout=True)
    for module in research.modules():  # non-trivial running statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    torch.save(research.state_dict(), tmp_path / "latest_net_G.pth")
    r = cli("import", tmp_path / "latest_net_G.pth", "--generator", generator, "--out", tmp_path / "run")
    assert r.code == 0, r.err
    ours = Translator.from_checkpoint(tmp_path / "run", norm="eval", scale="native")
    x = np.random.default_rng(0).integers(0, 255, (2 ** depth, 2 ** depth, 3), dtype=np.uint8)
    research.eval()
    with torch.no_grad():
        expected = research(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1)
    expected = ((expected[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).numpy()
    got = np.asarray(ours(x), np.float64)
    assert np.abs(got - expected).max() <= 1
    # and the imported run exports like any other
    assert export_model(tmp_path / "run", "weights", tmp_path / "g.safetensors").max_diff <= 1e-3


def test_import_resnet_and_errors(tmp_path: Path):
    torch.manual_seed(0)
    research = ResnetGenerator(3, 3, ngf=8, n_blocks=9)  # the research code's own structure and naming
    torch.save({f"module.{k}": v for k, v in research.state_dict().items()}, tmp_path / "g.pth")  # saved from DataParallel
    run = import_research_generator(tmp_path / "g.pth", "resnet_9blocks", tmp_path / "run", norm="instance")
    x = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = research.eval()(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1)
    expected = ((expected[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).numpy()
    got = np.asarray(Translator.from_checkpoint(run, scale="native", precision="fp32")(x), np.float64)
    assert got.shape == (32, 32, 3) and np.abs(got - expected).max() <= 1
    with pytest.raises(CheckpointError, match="not a research U-Net"):
        import_research_generator(tmp_path / "g.pth", "unet_256", tmp_path / "run2")
    torch.save(UnetGenerator(3, 3, 7, ngf=8).state_dict(), tmp_path / "u128.pth")
    with pytest.raises(CheckpointError, match="missing|shape"):
        import_research_generator(tmp_path / "u128.pth", "unet_256", tmp_path / "run3")
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(CheckpointError, match="not a readable"):
        import_research_generator(tmp_path / "junk.pth", "unet_256", tmp_path / "run4")


def test_an_exporter_failure_is_its_innermost_reason_on_one_line():
    from pix2pix.export import exporter_reason

    try:
        try:
            raise ValueError("dynamic shape 'z' does not match\nmore detail")
        except ValueError as inner:
            raise RuntimeError("Failed to export. \x1b[96mThis is step 1/3\x1b[0m of exporting. Next steps:") from inner
    except RuntimeError as outer:
        assert exporter_reason(outer) == "ValueError: dynamic shape 'z' does not match"
    assert exporter_reason(RuntimeError("\x1b[96mcoloured\x1b[0m")) == "RuntimeError: coloured"
