"""BicycleGAN: the U-Net that takes a code z, the encoder, the two cycles' step, and its refusals.
(Training, exact resume, test and export: tests/test_method_is_one_file.py runs them for every method.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pix2pix.api import train
from pix2pix.config import load_config
from pix2pix.errors import ConfigError
from pix2pix.methods import build_method
from pix2pix.models import UNet, build_encoder, encoder_names
from pix2pix.training.precision import Precision

from conftest import tiny_overrides


def bicycle_cfg(*extra: str):
    return load_config(None, tiny_overrides(model__ngf=4, model__ndf=4) + ["model.method=bicyclegan", "bicyclegan.nef=4",
                                                                              *extra])


@pytest.mark.parametrize("layers", ["input", "all"])
def test_the_unet_takes_a_code_beside_the_input_and_none_means_the_priors_mean(layers: str):
    torch.manual_seed(0)
    net = UNet(in_channels=3, out_channels=3, depth=5, ngf=4, norm="instance", dropout=0.0, latent=8,
               latent_layers=layers).eval()
    widths = [layer.in_channels for layer in net.modules() if isinstance(layer, torch.nn.Conv2d)][:5]  # the encoder's
    assert widths == ([3 + 8, 4 + 8, 8 + 8, 16 + 8, 32 + 8] if layers == "all" else [3 + 8, 4, 8, 16, 32])
    x, z = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(net(x), net(x, torch.zeros(2, 8)))
        assert not torch.allclose(net(x, z), net(x))
        assert not torch.allclose(net(x, z)[0], net(x, z.flip(0))[0])  # each image its own code
    with pytest.raises(ValueError, match="takes no latent code"):
        UNet(in_channels=3, out_channels=3, depth=5, ngf=4)(x, z)


@pytest.mark.parametrize("name", encoder_names())
def test_every_encoder_gives_a_mean_and_log_variance_per_image_down_to_its_smallest_input(name: str):
    torch.manual_seed(0)
    net = build_encoder(name, in_channels=3, latent=8, nef=4, norm="instance", image_size=128)
    x = torch.rand(2, 3, net.smallest_input, net.smallest_input, requires_grad=True)
    mu, logvar = net(x)
    assert mu.shape == logvar.shape == (2, 8)
    (mu.sum() + logvar.sum()).backward()
    assert x.grad is not None and all(p.grad is not None for p in net.parameters())


def test_the_latent_regression_trains_the_generator_alone():
    """With lambda_latent on or off, one step from the same start moves E the same way (the regression's
    gradient reaches G only, as in the paper's code) and G differently."""
    batch = {"input": torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8),
             "target": torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)}
    states = {}
    for weight in ("0", "0.5"):
        torch.manual_seed(0)
        method = build_method(bicycle_cfg(f"bicyclegan.lambda_latent={weight}"), (3, 3), torch.device("cpu"))
        torch.manual_seed(1)
        losses = method.train_step(batch, Precision("fp32", torch.device("cpu")))
        states[weight] = ({k: v.clone() for k, v in method.nets["E"].state_dict().items()},
                          {k: v.clone() for k, v in method.nets["G"].state_dict().items()}, losses)
    (e_off, g_off, off), (e_on, g_on, on) = states["0"], states["0.5"]
    assert float(off["loss_z_L1"]) == 0 and float(on["loss_z_L1"]) > 0
    assert all(torch.equal(e_off[k], e_on[k]) for k in e_off)
    assert any(not torch.equal(g_off[k], g_on[k]) for k in g_off)
    assert float(on["loss_kl"]) >= 0 and {"loss_D2", "D_real2", "D_fake2", "loss_G_GAN2"} <= set(on)


@pytest.mark.parametrize("extra, message", [
    (["loss.lambda_l1=50"], "loss.lambda_l1: bicyclegan weighs its image reconstruction with bicyclegan.lambda_image"),
    (["data.load_size=16", "data.crop_size=8"], "too small for the resnet encoder: the smallest crop that works is 16"),
    (["bicyclegan.nz=0"], "bicyclegan.nz: must be between 1 and 512"),
    (["bicyclegan.z_layers=middle"], "bicyclegan.z_layers: 'middle' is not one of all, input"),
    (["model.generator=resnet_6blocks"], "the resnet_6blocks generator takes no latent code"),
])
def test_bad_options_are_one_line_errors(folder_data: Path, tmp_path: Path, extra: list[str], message: str):
    with pytest.raises(ConfigError, match=message) as info:
        train(bicycle_cfg(*extra, "train.max_steps=1"), folder_data, tmp_path / "run", progress=False)
    assert "\n" not in str(info.value)
