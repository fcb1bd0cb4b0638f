import pytest
import torch
from torch import nn

from pix2pix.errors import ConfigError
from pix2pix.models import (
    build_discriminator,
    build_generator,
    count_parameters,
    build_head,
    discriminator_names,
    generator_names,
    head_names,
    inference_mode,
    init_weights,
    run_padded,
    size_multiple,
    unet_depth,
)
from pix2pix.models.layers import BatchNorm2d, Dropout


def test_reference_parameter_counts():
    """The same numbers the research code prints for its networks."""
    g = build_generator("unet_256", in_channels=3, out_channels=3, ngf=64, norm="batch", dropout=0.5)
    assert count_parameters(g) == 54_413_955
    d = build_discriminator("patchgan", in_channels=6, ndf=64, n_layers=3, norm="batch")
    assert count_parameters(d) == 2_768_705
    assert count_parameters(build_discriminator("basic", in_channels=6, ndf=64, n_layers=5, norm="batch")) == 2_768_705
    r = build_generator("resnet_9blocks", in_channels=3, out_channels=3, ngf=64, norm="instance", dropout=0.0)
    assert count_parameters(r) == 11_378_179  # CycleGAN's G: "11.378 M"
    d_cycle = build_discriminator("patchgan", in_channels=3, ndf=64, n_layers=3, norm="instance")
    assert count_parameters(d_cycle) == 2_764_737  # CycleGAN's D: "2.765 M"


@pytest.mark.parametrize("name", generator_names())
@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_every_generator_forward_backward(name, norm):
    torch.manual_seed(0)
    net = init_weights(build_generator(name, in_channels=1, out_channels=3, ngf=4, norm=norm, dropout=0.5, image_size=32))
    x = torch.randn(2, 1, 32, 32)
    y = run_padded(net, x, size_multiple(net))
    assert y.shape == (2, 3, 32, 32)
    assert torch.isfinite(y).all() and y.abs().max() <= 1
    y.mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", discriminator_names())
def test_every_discriminator_forward_backward(name):
    net = init_weights(build_discriminator(name, in_channels=4, ndf=4, n_layers=3, norm="batch"))
    x = torch.randn(2, 4, 64, 64, requires_grad=True)
    scores = net(x)
    assert scores.shape[:2] == (2, 1) and torch.isfinite(scores).all()
    scores.mean().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", head_names())
def test_every_head_forward_backward(name):
    """Feature heads (PatchNCE's MLP): unit-length projections of the sampled patches, the same positions reused."""
    torch.manual_seed(0)
    head = init_weights(build_head(name, channels=[3, 8], width=16))
    features = [torch.randn(2, 3, 8, 8, requires_grad=True), torch.randn(2, 8, 4, 4, requires_grad=True)]
    out, positions = head(features, patches=10)
    assert [o.shape for o in out] == [(20, 16), (2 * 10, 16)] and [len(p) for p in positions] == [10, 10]
    assert all(torch.allclose(o.norm(dim=1), torch.ones(o.shape[0]), atol=1e-5) for o in out)
    again, same = head(features, patches=10, positions=positions)
    assert all(torch.equal(a, b) for a, b in zip(same, positions)) and all(torch.equal(a, b) for a, b in zip(again, out))
    sum(o.sum() for o in out).backward()
    assert all(f.grad is not None and torch.isfinite(f.grad).all() for f in features)


def test_multiscale_spectral_discriminator_and_its_features():
    net = init_weights(build_discriminator("patchgan", in_channels=4, ndf=4, n_layers=3, norm="none", num_d=3,
                                           spectral_norm=True))
    x = torch.randn(1, 4, 128, 128, requires_grad=True)
    from pix2pix.models.discriminators import judge

    scales = judge(net, x, features=True)
    assert [s[-1].shape[-1] for s in scales] == [14, 6, 2]  # 70x70 patches at 1, 1/2 and 1/4 scale
    assert all(len(s) == 5 for s in scales)  # four blocks' activations and the scores, per scale
    sum(s[-1].mean() for s in scales).backward()
    assert torch.isfinite(x.grad).all()
    assert any("parametrizations" in name for name, _ in net.named_parameters())


def test_patchgan_receptive_field_is_70():
    """With n_layers=3 one output sees a 70x70 input patch: changing a pixel 35+ px away changes nothing."""
    net = build_discriminator("patchgan", in_channels=1, ndf=2, n_layers=3, norm="none").eval()
    x = torch.zeros(1, 1, 128, 128, requires_grad=True)
    net(x)[0, 0, 5, 5].backward()
    rows = x.grad[0, 0].abs().sum(dim=1).nonzero()
    assert int(rows.max() - rows.min() + 1) == 70


def test_unknown_names_list_valid_ones():
    with pytest.raises(ConfigError, match="valid: .*unet_256"):
        build_generator("unet_512", in_channels=3, out_channels=3)
    with pytest.raises(ConfigError, match="valid: .*patchgan"):
        build_discriminator("huge", in_channels=3)


def test_unet_depth_and_dropout_placement():
    assert [unet_depth(s) for s in (32, 64, 128, 256, 512)] == [5, 6, 7, 8, 8]
    net = build_generator("unet_256", in_channels=3, out_channels=3, ngf=4, norm="batch", dropout=0.5)
    dropouts = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 3  # the paper's code: 3 blocks next to the innermost
    assert size_multiple(net) == 256


def test_any_input_size_is_padded_and_cropped_back():
    net = build_generator("unet", in_channels=3, out_channels=1, ngf=4, norm="instance", dropout=0.0, image_size=32)
    for h, w in [(1, 1), (5, 37), (33, 32), (70, 19)]:
        assert run_padded(net, torch.randn(1, 3, h, w), size_multiple(net)).shape == (1, 1, h, w)


def _bn_unet():
    torch.manual_seed(0)
    net = init_weights(build_generator("unet", in_channels=3, out_channels=3, ngf=8, norm="batch", dropout=0.5, image_size=64))
    net.train()
    for _ in range(3):  # give the running statistics something other than their init
        net(torch.randn(4, 3, 64, 64) * 2 + 1)
    return net


def test_per_image_mode_batching_never_mixes_images():
    net = _bn_unet()
    images = torch.randn(3, 3, 64, 64)
    with inference_mode(net, "per_image", seed=5):
        together = net(images)
        alone = torch.cat([net(images[i : i + 1]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_per_image_mode_is_seeded_and_leaves_state_alone():
    net = _bn_unet()
    stats = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(1, 3, 64, 64)
    with inference_mode(net, "per_image", seed=1):
        a, b = net(x), net(x)
    with inference_mode(net, "per_image", seed=2):
        c = net(x)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in stats.items())  # running stats untouched
    assert net.training  # the network itself was never switched: the mode lived in the call's context
    assert all(m.fixed is None for m in net.modules() if isinstance(m, (BatchNorm2d, Dropout)))


def test_per_image_mode_at_batch_one_equals_training_forward_without_dropout():
    torch.manual_seed(0)
    net = init_weights(build_generator("unet", in_channels=3, out_channels=3, ngf=8, norm="batch", dropout=0.0, image_size=64))
    x = torch.randn(1, 3, 64, 64)
    with inference_mode(net, "per_image"):
        paper = net(x)
    net.train()
    with torch.no_grad():
        train = net(x)
    assert torch.allclose(paper, train, atol=1e-5)


def test_eval_mode_uses_running_stats_and_no_dropout():
    net = _bn_unet()
    x = torch.randn(2, 3, 64, 64)
    with inference_mode(net, "eval", seed=1):
        a = net(x)
    with inference_mode(net, "eval", seed=2):
        b = net(x)
    assert torch.equal(a, b)
    with inference_mode(net, "eval"):
        single = net(x[:1])
    assert torch.allclose(single, a[:1], atol=1e-5)


@pytest.mark.parametrize("kind", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_kinds(kind):
    """Each init gives the spread its formula says, unlike torch's default (kaiming-uniform, std 1/sqrt(3 fan_in))."""
    torch.manual_seed(0)
    net = init_weights(build_discriminator("patchgan", in_channels=3, ndf=16, n_layers=3, norm="batch"), kind, 0.02)
    conv = net.model[2]  # 16 -> 32 channels, 4x4: fan_in 256, fan_out 512
    w = conv.weight.detach().flatten(1)
    fan_in, fan_out = w.shape[1], conv.weight.shape[0] * 16
    expected = {"normal": 0.02, "xavier": 0.02 * (2 / (fan_in + fan_out)) ** 0.5, "kaiming": (2 / fan_in) ** 0.5}
    if kind in expected:
        assert float(w.std()) == pytest.approx(expected[kind], rel=0.08)
    else:  # orthogonal rows scaled by the gain
        assert torch.allclose(w @ w.T, 0.02**2 * torch.eye(w.shape[0]), atol=1e-6)
    first = net.model[0].weight.detach()  # fan_in 48: torch's default would give std ~0.083
    if kind == "normal":
        assert float(first.std()) == pytest.approx(0.02, rel=0.1)
    bn = net.model[3]
    assert float(bn.weight.detach().std()) == pytest.approx(0.02, rel=0.3)  # N(1, gain), not torch's constant 1
    assert abs(float(bn.weight.detach().mean()) - 1.0) < 0.01 and float(bn.bias.detach().abs().sum()) == 0
    assert all(float(c.bias.detach().abs().sum()) == 0 for c in net.modules() if isinstance(c, torch.nn.Conv2d) and c.bias is not None)
    with pytest.raises(ConfigError):
        init_weights(net, "uniform")
