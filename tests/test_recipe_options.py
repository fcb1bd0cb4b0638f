"""The quality options: each changes what is trained, and trains, validates, tests, exports and resumes exactly (N + N == 2N)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pix2pix.config import load_config
from pix2pix.errors import ConfigError
from pix2pix.evaluation.testing import run_test
from pix2pix.export import export_model
from pix2pix.models import build_generator, count_parameters
from pix2pix.models.augment import AdaptiveAugment, diff_augment
from pix2pix.models.perceptual import LAYOUTS, load_vgg_loss, vgg_features
from pix2pix.runs import checkpoints as ckpt
from pix2pix.api import resume, train

from test_training import assert_same_state, cfg_for, weights


def _vgg_file(tmp_path: Path) -> Path:
    """A stand-in for torchvision's VGG19 weights: the exact keys and shapes, random values."""
    torch.manual_seed(0)
    net = vgg_features(LAYOUTS["vgg19"])
    path = tmp_path / "vgg19-standin.pth"
    torch.save({f"features.{k}": v for k, v in net.state_dict().items()} | {"classifier.0.weight": torch.zeros(2, 2)}, path)
    return path


OPTIONS = {
    "resize_conv": ["model.upsample=resize_conv"],
    "pixel_shuffle": ["model.upsample=pixel_shuffle"],
    "pixel_shuffle_outer": ["model.upsample=pixel_shuffle_outer"],
    "ema": ["train.ema_decay=0.9"],
    "diffaugment": ["train.d_augment=color,translation,cutout"],
    "adaptive_augment": ["train.d_augment=translation", "train.d_augment_adaptive=true", "train.d_augment_p=0.2"],
    "multiscale_fm": ["model.num_d=2", "loss.lambda_fm=10"],
    "spectral_r1": ["model.d_spectral_norm=true", "loss.lambda_r1=1", "loss.r1_every=2"],
    "clip": ["train.clip_grad_norm=0.5"],
    "vgg": ["loss.lambda_vgg=1"],
    "fourier_amplitude": ["loss.lambda_fft=10"],
    "local_log_spectrum": ["loss.lambda_spectrum=1"],
    "batch_sqrt_lr": ["train.lr_batch_scaling=sqrt"],
    "no_adversarial": ["loss.lambda_gan=0"],
    "bilinear": ["model.upsample=bilinear"],
    "l1_decay": ["pix2pix.lambda_l1_final=10", "pix2pix.lambda_l1_decay_steps=4"],
    "input_skip": ["model.input_skip=4"],
    "label_map_outputs": ["model.output_palette=facades"],
}


def _differs(a: dict, b: dict) -> bool:
    """Whether two checkpoints hold different networks (other tensors, or other names) or method state."""
    if a["extra"] != b["extra"] or set(a["networks"]) != set(b["networks"]):
        return True
    return any(set(a["networks"][n]) != set(b["networks"][n])
               or any(not torch.equal(v, b["networks"][n][k]) for k, v in a["networks"][n].items()) for n in a["networks"])


@pytest.mark.parametrize("option", list(OPTIONS))
def test_option_trains_resumes_exactly_tests_and_exports(folder_data: Path, tmp_path: Path, option: str):
    # on the paper's recipe, where every option is off: an option that is silently ignored changes nothing
    extra = ["model.recipe=published", "train.val_every=2", "train.sample_every=0"]
    train(cfg_for(*extra, "train.max_steps=6"), folder_data, tmp_path / "off", progress=False)
    extra += OPTIONS[option]
    if option == "vgg":
        extra.append(f"loss.vgg_weights={_vgg_file(tmp_path)}")
    straight = train(cfg_for(*extra, "train.max_steps=6"), folder_data, tmp_path / "straight", progress=False)
    assert _differs(weights(tmp_path / "off"), weights(tmp_path / "straight")), f"{option} changed no saved state"
    first = train(cfg_for(*extra, "train.max_steps=3"), folder_data, tmp_path / "split", progress=False)
    second = resume(tmp_path / "split", ["train.max_steps=6"], progress=False)
    assert straight.step == second.step == 6 and first.step == 3
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert_same_state(a, b)
    assert a["extra"] == b["extra"]  # EMA counters, augmentation probability, R1 step counter
    assert straight.best_val_l1 is not None and np.isfinite(straight.best_val_l1)
    result = run_test(tmp_path / "split", folder_data, progress=False)
    assert result.count == 3 and np.isfinite(result.mean["L1"])
    exported = export_model(tmp_path / "split", "weights", tmp_path / "g.safetensors")
    assert exported.max_diff <= 1e-3


def test_lambda_gan_zero_is_a_regression_that_never_touches_d():
    from pix2pix.methods import build_method
    from pix2pix.training.precision import Precision

    cfg = cfg_for("loss.lambda_gan=0")
    torch.manual_seed(0)
    method = build_method(cfg, (3, 3), torch.device("cpu"))
    d_before = {k: v.clone() for k, v in method.nets["D"].state_dict().items()}
    g_before = {k: v.clone() for k, v in method.nets["G"].state_dict().items()}

    batch = {"input": torch.rand(2, 3, 64, 64), "target": torch.rand(2, 3, 64, 64)}
    losses = method.train_step(batch, Precision("fp32", torch.device("cpu")))
    assert not any(k.startswith(("loss_D", "D_")) for k in losses) and "loss_G_GAN" not in losses
    assert torch.allclose(losses["loss_G"], losses["loss_G_L1"])
    assert all(torch.equal(v, d_before[k]) for k, v in method.nets["D"].state_dict().items())
    assert any(not torch.equal(v, g_before[k]) for k, v in method.nets["G"].state_dict().items())
    for extra, key in (("train.d_augment=color", "train.d_augment"), ("loss.lambda_fm=10", "loss.lambda_fm"),
                       ("loss.lambda_l1=0", "no loss term")):
        with pytest.raises(ConfigError, match=key):
            build_method(cfg_for("loss.lambda_gan=0", extra), (3, 3), torch.device("cpu"))
    with pytest.raises(ConfigError, match="loss.lambda_gan"):
        build_method(cfg_for("model.method=cyclegan", "loss.lambda_gan=0"), (3, 3), torch.device("cpu"))


def test_ema_is_what_inference_uses_and_init_from_says_what_it_takes(folder_data: Path, tmp_path: Path, capsys, cli):
    from pix2pix.inference import load_model

    run = tmp_path / "ema"
    train(cfg_for("train.ema_decay=0.5", "train.max_steps=4"), folder_data, run, progress=False)
    state = ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert set(state["networks"]) == {"G", "D", "G_ema"}
    live, average = state["networks"]["G"], state["networks"]["G_ema"]
    assert any(not torch.equal(live[k], average[k]) for k in live)  # a real average, not a copy
    model = load_model(run, "latest")
    loaded = model.generators["AtoB"].state_dict()
    assert all(torch.equal(loaded[k], average[k]) for k in average)
    running = [k for k in average if k.endswith("running_mean")]
    assert running and any(not torch.equal(live[k], average[k]) for k in running)  # batch-norm statistics averaged too
    assert model.weights == "average"
    trained = load_model(run, "latest", weights="live")  # what the average changes, from the same run
    assert trained.weights == "live"
    assert all(torch.equal(v, live[k]) for k, v in trained.generators["AtoB"].state_dict().items())
    with pytest.raises(ConfigError, match="weights"):
        load_model(run, "latest", weights="ema")
    for kind in ("average", "live"):  # `pix2pix test --weights` scores either, and says which in metrics.json
        assert cli("test", run, folder_data, "--weights", kind, "--out", tmp_path / kind, "--no-progress").code == 0
        assert json.loads((tmp_path / kind / "metrics.json").read_text())["weights"] == kind
    exported = export_model(run, "weights", tmp_path / "g.safetensors").path
    refused = cli("test", exported, folder_data, "--weights", "live", "--out", tmp_path / "x")
    assert refused.code == 2 and "one set of weights" in refused.err and len(refused.err.strip().splitlines()) == 1
    train(cfg_for("train.max_steps=1"), folder_data, tmp_path / "ft", init_from=run, progress=False)
    assert "G <- G_ema, D <- D" in capsys.readouterr().err


def test_ema_decay_ramps_up_then_holds():
    from pix2pix.methods.ema import WeightAverage

    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    average = WeightAverage(net, decay=0.99)
    with torch.no_grad():
        net.weight.fill_(1.0)
    average.update(net)  # decay min(0.99, 1/10): the average moves 90% of the way at first
    assert average.average.weight.item() == pytest.approx(0.9)
    average.updates = 10_000
    average.update(net)
    assert average.average.weight.item() == pytest.approx(0.9 + 0.1 * 0.01)


def test_resize_conv_changes_the_layers_transposed_keeps_the_pinned_count():
    args = dict(in_channels=3, out_channels=3, ngf=64, norm="batch", dropout=0.5, image_size=256)
    assert count_parameters(build_generator("unet_256", **args)) == 54_413_955
    resized = build_generator("unet_256", upsample="resize_conv", **args)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in resized.modules())
    assert resized(torch.randn(1, 3, 256, 256)).shape == (1, 3, 256, 256)
    with pytest.raises(ConfigError, match="model.upsample"):
        load_config(None, ["model.upsample=lanczos"])
    bilinear = build_generator("unet_256", upsample="bilinear", **args)
    assert {m.mode for m in bilinear.modules() if isinstance(m, torch.nn.Upsample)} == {"bilinear"}
    assert bilinear(torch.randn(1, 3, 256, 256)).shape == (1, 3, 256, 256)


def test_pixel_shuffle_starts_as_nearest_upsampling_and_can_learn_the_finest_period():
    from pix2pix.models.generators import SubPixelUpsample
    from pix2pix.models.init import init_weights

    net = build_generator("unet_128", in_channels=3, out_channels=3, ngf=8, norm="batch", dropout=0.5,
                          image_size=128, upsample="pixel_shuffle")
    init_weights(net, "normal", 0.02)  # the model's init must keep ICNR's tied phases
    layer = net.decoder[0][1]
    assert isinstance(layer, SubPixelUpsample)
    x = torch.randn(1, 16, 8, 8)
    out = layer(x)  # (1, 3, 16, 16): every 2x2 block one value at the start, so no checkerboard
    assert out.shape == (1, 3, 16, 16)
    assert torch.equal(out, torch.nn.functional.interpolate(out[..., ::2, ::2], scale_factor=2, mode="nearest"))
    with torch.no_grad():
        layer.conv.bias[1::4] += 1.0  # one phase alone: the finest-period pattern resize_conv cannot draw
    assert not torch.allclose(layer(x)[..., ::2, ::2], layer(x)[..., ::2, 1::2])


def test_pixel_shuffle_outer_puts_sub_pixel_layers_only_where_the_finest_periods_are_drawn():
    from pix2pix.models.generators import SubPixelUpsample

    def unet(kind: str) -> torch.nn.Module:
        return build_generator("unet_128", in_channels=3, out_channels=3, ngf=8, norm="batch", dropout=0.5,
                               image_size=128, upsample=kind)

    outer = unet("pixel_shuffle_outer")
    kinds = [type(block[1]).__name__ for block in outer.decoder]
    assert kinds[:2] == ["SubPixelUpsample", "SubPixelUpsample"] and all(k == "Sequential" for k in kinds[2:])
    assert sum(isinstance(m, SubPixelUpsample) for m in unet("pixel_shuffle").modules()) == 7
    # its weights stay near resize_conv's: the outer layers are the narrow ones
    assert count_parameters(outer) < 1.1 * count_parameters(unet("resize_conv")) < count_parameters(unet("pixel_shuffle"))


def test_diffaugment_keeps_pairs_aligned_and_lets_gradients_through():
    torch.manual_seed(0)
    a = torch.rand(4, 3, 16, 16, requires_grad=True)
    pair = torch.cat([a, a], dim=1)  # input and output halves identical
    out = diff_augment(pair, ("color", "translation", "cutout"), groups=(3, 3))
    assert torch.equal(out[:, :3], out[:, 3:])  # one transform for both halves
    assert not torch.equal(out, pair)
    out.sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    unchanged = diff_augment(pair, ("color",), groups=(3, 3), p=0.0)
    assert torch.equal(unchanged, pair)
    with pytest.raises(ConfigError, match="train.d_augment"):
        load_config(None, ["train.d_augment=colour"])


def test_adaptive_probability_follows_the_overfitting_signal():
    ada = AdaptiveAugment(target=0.6, ramp_images=100, interval=4, p=0.5)
    for _ in range(8):
        ada.update(1.0, batch=1)  # D always sure on real pairs: p rises
    assert ada.p == pytest.approx(0.5 + 2 * 0.04)
    for _ in range(80):  # 20 adjustments down: floored at 0
        ada.update(-1.0, batch=1)
    assert ada.p == 0.0
    restored = AdaptiveAugment(0.6, 100)
    restored.load_state_dict(ada.state_dict())
    assert restored.state_dict() == ada.state_dict()


def test_clipping_is_counted_and_turns_step_in_backward_off(folder_data: Path, tmp_path: Path):
    import json

    from pix2pix.training.trainer import Trainer

    trainer = Trainer(cfg_for("train.clip_grad_norm=1e-6", "train.step_in_backward=true"), folder_data, tmp_path / "t",
                      progress=False)
    assert trainer.precision.backward_steps is None
    run = tmp_path / "r"
    train(cfg_for("train.clip_grad_norm=1e-6", "train.max_steps=2"), folder_data, run, progress=False)
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if '"train"' in line]
    assert logged[-1]["clipped_G"] == 1.0 and logged[-1]["clipped_D"] == 1.0
    assert ckpt.load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 2


def test_vgg_weights_are_checked_strictly(tmp_path: Path):
    good = _vgg_file(tmp_path)
    loss = load_vgg_loss(good, torch.device("cpu"))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(loss(x, x)) == 0.0 and float(loss(x, -x)) > 0
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, wrong)
    with pytest.raises(ConfigError, match="neither a VGG16 nor a VGG19"):
        load_vgg_loss(wrong, torch.device("cpu"))
    with pytest.raises(ConfigError, match="not found"):
        load_vgg_loss(tmp_path / "missing.pth", torch.device("cpu"))
    with pytest.raises(ConfigError, match="loss.vgg_weights"):
        load_config(None, ["loss.lambda_vgg=1"])


@pytest.mark.parametrize("method", ["cyclegan", "bicyclegan"])
@pytest.mark.parametrize("term", ["loss.lambda_fm=10", "loss.lambda_fft=10", "loss.lambda_spectrum=1"])
def test_pix2pix_only_terms_are_refused_by_the_other_methods(folder_data: Path, tmp_path: Path, term: str, method: str):
    key = term.split("=")[0]
    with pytest.raises(ConfigError, match=f"{key} is an option of the pix2pix method"):
        train(cfg_for(f"model.method={method}", term, "train.max_steps=1"), folder_data, tmp_path / "c",
              progress=False)


@pytest.mark.parametrize("key, logged", [("loss.lambda_fft", "loss_G_FFT"), ("loss.lambda_spectrum", "loss_G_spectrum")])
def test_spectral_terms_are_logged_and_refuse_a_negative_weight(folder_data: Path, tmp_path: Path, key: str, logged: str):
    with pytest.raises(ConfigError, match=key):
        load_config(None, [f"{key}=-1"])
    run = tmp_path / "spectral"
    train(cfg_for(f"{key}=10", "train.max_steps=2", "train.sample_every=0"), folder_data, run, progress=False)
    log = (run / "log.jsonl").read_text()
    assert logged in log


def test_l1_weight_falls_along_a_cosine_then_holds_and_the_step_uses_it():
    from pix2pix.methods import build_method, resolve
    from pix2pix.methods.pix2pix import Pix2PixTerms
    from pix2pix.training.precision import Precision

    terms = Pix2PixTerms("lsgan", 100.0, lambda_l1_final=10.0, lambda_l1_decay_steps=100)
    assert [terms.l1_weight(s) for s in (0, 50, 100, 5000)] == pytest.approx([100, 55, 10, 10])
    assert Pix2PixTerms("lsgan", 100.0).l1_weight(5000) == 100  # no final weight: no decay
    with pytest.raises(ConfigError, match="pix2pix.lambda_l1_decay_steps"):
        resolve(load_config(None, ["pix2pix.lambda_l1_decay_steps=0"]))
    # in training: the logged L1 term is the L1 distance times the weight of that step
    method = build_method(cfg_for("pix2pix.lambda_l1_final=0", "pix2pix.lambda_l1_decay_steps=1"), (3, 3), torch.device("cpu"))
    batch = {"input": torch.rand(1, 3, 64, 64), "target": torch.rand(1, 3, 64, 64)}
    first = method.train_step(batch, Precision("fp32", torch.device("cpu")))
    second = method.train_step(batch, Precision("fp32", torch.device("cpu")))
    assert first["loss_G_L1"] > 1 and second["loss_G_L1"] == 0


def test_input_skip_lets_the_input_reach_the_output_at_full_resolution():
    net = build_generator("unet_128", in_channels=3, out_channels=3, ngf=8, norm="batch", dropout=0.0,
                          image_size=64, upsample="bilinear", input_skip=4)
    conv = net.input_head[0]
    assert conv.in_channels == 4 + 3 and conv.out_channels == 3
    with torch.no_grad():  # the head reads nothing of the features, and passes each input channel through
        conv.weight.zero_()
        conv.bias.zero_()
        for c in range(3):
            conv.weight[c, 4 + c, 1, 1] = 1.0
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    x[..., 10, 11] = 0.9  # a one-pixel detail: no stride-2 layer could carry it through unchanged
    assert torch.allclose(net(x), torch.tanh(x), atol=1e-6)
    plain = build_generator("unet_128", in_channels=3, out_channels=3, ngf=8, norm="batch", dropout=0.0, image_size=64)
    assert plain.input_head is None
    with pytest.raises(ConfigError, match="model.input_skip"):
        build_generator("resnet_6blocks", in_channels=3, out_channels=3, ngf=8, norm="instance", dropout=0.0,
                        image_size=64, input_skip=4)
