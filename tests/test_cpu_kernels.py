"""The runtime's CPU kernel choice: the matmul form of weight-bound convolutions computes what torch.nn's
layers compute, and is applied to built networks by the trainer and inference, never by the model classes."""

from __future__ import annotations

import copy
import pytest
import torch
from torch import nn

from pix2pix.models.generators import unet
from pix2pix.runtime.cpu_kernels import MatmulConv2d as Conv2d
from pix2pix.runtime.cpu_kernels import MatmulConvTranspose2d as ConvTranspose2d
from pix2pix.runtime.cpu_kernels import use_matmul_convolutions

CONV_CASES = [  # (in, out, kernel, stride, padding, dilation, bias, input size)
    (8, 6, 4, 2, 1, 1, False, 4),
    (5, 7, 3, 1, 1, 1, True, 3),
    (4, 3, 3, 2, 2, 2, True, 5),
    (6, 4, (3, 2), (1, 2), (1, 0), 1, True, 4),
]
TRANSPOSED_CASES = [  # (in, out, kernel, stride, padding, output_padding, bias, input size)
    (8, 6, 4, 2, 1, 0, False, 2),
    (5, 7, 3, 2, 1, 1, True, 3),
    (4, 3, 4, 2, 1, 0, True, 1),
    (6, 2, (3, 4), (1, 2), (0, 1), 0, True, 3),
]


def _plain_twin(layer: nn.Module) -> nn.Module:
    """A copy of ``layer`` as torch.nn's own class (same parameters)."""
    twin = copy.deepcopy(layer)
    twin.__class__ = type(layer).__mro__[1]
    return twin


def _compare(layer: nn.Module, x: torch.Tensor, atol: float) -> None:
    assert layer._matmul_ok(x), "this case must take the matmul path"
    twin = _plain_twin(layer)
    assert type(twin) in (nn.Conv2d, nn.ConvTranspose2d)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = layer(xa), twin(xb)
    assert ya.shape == yb.shape
    torch.testing.assert_close(ya, yb, atol=atol, rtol=1e-4)
    grad = torch.randn_like(ya)
    ya.backward(grad)
    yb.backward(grad)
    torch.testing.assert_close(xa.grad, xb.grad, atol=atol, rtol=1e-4)
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, getattr(twin, name).grad, atol=atol * 10, rtol=1e-4)


@pytest.mark.parametrize("cin,cout,k,s,p,d,bias,size", CONV_CASES)
def test_conv_matches_nn(cin, cout, k, s, p, d, bias, size):
    torch.manual_seed(0)
    layer = Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias)
    _compare(layer, torch.randn(2, cin, size, size), atol=1e-5)


@pytest.mark.parametrize("cin,cout,k,s,p,op,bias,size", TRANSPOSED_CASES)
def test_transposed_conv_matches_nn(cin, cout, k, s, p, op, bias, size):
    torch.manual_seed(0)
    layer = ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, bias=bias)
    _compare(layer, torch.randn(2, cin, size, size), atol=1e-5)


def test_bf16_autocast_stays_bf16_and_close():
    torch.manual_seed(0)
    for layer, x in ((Conv2d(16, 8, 4, 2, 1), torch.randn(1, 16, 8, 8)), (ConvTranspose2d(16, 8, 4, 2, 1), torch.randn(1, 16, 2, 2))):
        twin = _plain_twin(layer)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ya, yb = layer(x), twin(x)
        assert ya.dtype == yb.dtype == torch.bfloat16
        torch.testing.assert_close(ya.float(), yb.float(), atol=0.05, rtol=0.02)


def test_large_maps_use_torch_layers(monkeypatch):
    """Beyond the measured row limits (and for channels that need padding modes or groups) nn's path runs."""
    conv = Conv2d(4, 4, 4, 2, 1)
    assert conv._matmul_ok(torch.randn(1, 4, 2 * 11, 2 * 11))  # 121 output positions
    assert not conv._matmul_ok(torch.randn(1, 4, 2 * 12, 2 * 12))  # 144 > CONV_MAX_ROWS
    assert not conv._matmul_ok(torch.randn(2, 4, 2 * 11, 2 * 11))  # the batch counts (training)
    conv.per_sample = True
    assert conv._matmul_ok(torch.randn(2, 4, 2 * 11, 2 * 11))  # ... but not for inference: batching must not change outputs
    conv.per_sample = False
    transposed = ConvTranspose2d(4, 4, 4, 2, 1)
    assert transposed._matmul_ok(torch.randn(2, 4, 16, 16))
    assert not transposed._matmul_ok(torch.randn(4, 4, 16, 16))
    assert not Conv2d(4, 4, 3, padding=1, padding_mode="reflect")._matmul_ok(torch.randn(1, 4, 4, 4))
    assert not Conv2d(4, 4, 3, padding=1, groups=2)._matmul_ok(torch.randn(1, 4, 4, 4))
    assert not ConvTranspose2d(4, 4, 4, 2, 1, groups=2)._matmul_ok(torch.randn(1, 4, 4, 4))
    conv.max_rows = 0  # each layer's own limit
    assert not conv._matmul_ok(torch.randn(1, 4, 2, 2))


def test_tracing_and_compiling_use_torch_layers(monkeypatch):
    """Traced/exported graphs must not bake in one input size's matmul shapes."""
    layer = ConvTranspose2d(4, 4, 4, 2, 1)
    x = torch.randn(1, 4, 2, 2)
    calls = []
    monkeypatch.setattr(torch.nn.functional, "fold", lambda *a, **k: calls.append(1) or pytest.fail("fold while tracing"))
    traced = torch.jit.trace(layer, x, check_trace=False)
    assert not calls
    torch.testing.assert_close(traced(torch.randn(1, 4, 3, 3)).shape, torch.Size([1, 4, 6, 6]))
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert not layer._matmul_ok(x)


def test_unet_inner_layers_take_the_matmul_path(monkeypatch):
    """A 256 px U-Net at batch 1 runs its eight inner layers as matmuls, the outer ones as convolutions."""
    net = unet(in_channels=3, out_channels=3, ngf=8, norm="batch", dropout=0.0, image_size=256)
    assert all(type(m) in (nn.Conv2d, nn.ConvTranspose2d) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert use_matmul_convolutions(net) is net
    assert {k: v for k, v in net.state_dict().items()}.keys() == before.keys()
    taken = []
    for module in net.modules():
        if isinstance(module, (Conv2d, ConvTranspose2d)):
            original = module._matmul_ok
            monkeypatch.setattr(module, "_matmul_ok", lambda x, original=original: taken.append(original(x)) or taken[-1])
    with torch.no_grad():
        net(torch.randn(1, 3, 256, 256))
    # encoder: outputs 128,64,32,16 px -> conv; 8,4,2,1 -> matmul. decoder inputs 1,2,4,8,16 -> matmul; 32,64,128 -> conv
    assert taken.count(True) == 9 and taken.count(False) == 7



def test_trainer_and_translator_apply_it_on_cpu_to_generators_only(folder_data, tmp_path, trained_run):
    from pix2pix import Translator
    from pix2pix.inference import load_model
    from pix2pix.training.trainer import Trainer

    from conftest import tiny_config

    trainer = Trainer(tiny_config("train.device=cpu"), folder_data, tmp_path / "run", progress=False)
    nets = trainer.method.networks()
    assert any(isinstance(m, (Conv2d, ConvTranspose2d)) for m in nets["G"].modules())
    assert not any(isinstance(m, (Conv2d, ConvTranspose2d)) for m in nets["D"].modules())  # D keeps torch's layers
    model = load_model(trained_run)
    assert not any(isinstance(m, (Conv2d, ConvTranspose2d)) for m in model.generators["AtoB"].modules())  # as built
    translator = Translator(model, device="cpu")
    assert any(isinstance(m, (Conv2d, ConvTranspose2d)) for m in translator.net.modules())
