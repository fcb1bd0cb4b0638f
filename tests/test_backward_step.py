"""Adam inside backward gives exactly the updates of Adam after backward, with less memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from pix2pix.models import unwrap
from pix2pix.training.backward_step import BackwardSteps
from pix2pix.training.trainer import Trainer


def _train(data: Path, run: Path, method: str, in_backward: bool, steps: int = 3) -> tuple[Trainer, list[dict]]:
    extra = {"cyclegan": ["model.method=cyclegan", "cyclegan.pool_size=2"], "wgangp": ["loss.gan_mode=wgangp"]}.get(method, [])
    cfg = tiny_config(*extra, f"train.step_in_backward={str(in_backward).lower()}", "train.precision=fp32", "train.seed=3")
    trainer = Trainer(cfg, data, run, progress=False)
    batches = iter(trainer.make_loader())
    norms = []
    for _ in range(steps):
        trainer.precision.measure_grads = True
        trainer.method.train_step(next(batches), trainer.precision)
        norms.append(dict(trainer.precision.grad_norms))
    return trainer, norms


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan", "wgangp"])  # wgangp: a double backward into D
def test_same_weights_and_optimizer_state_bit_for_bit(folder_data: Path, tmp_path: Path, method: str):
    classic, classic_norms = _train(folder_data, tmp_path / "a", method, in_backward=False)
    fused, fused_norms = _train(folder_data, tmp_path / "b", method, in_backward=True)
    assert fused.precision.backward_steps is not None and classic.precision.backward_steps is None
    for name, net in classic.method.networks().items():
        other = dict(unwrap(fused.method.networks()[name]).named_parameters())
        for key, p in unwrap(net).named_parameters():
            assert torch.equal(p, other[key]), f"{name}.{key} differs"
            assert other[key].grad is None  # freed as soon as it was used
    for name, opt in classic.method.optimizers().items():
        a, b = opt.state_dict(), fused.method.optimizers()[name].state_dict()
        assert a["param_groups"] == b["param_groups"]
        assert a["state"].keys() == b["state"].keys()
        for index, state in a["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b["state"][index][key]), f"{name} state {index}.{key}"
    for a, b in zip(classic_norms, fused_norms):
        assert sorted(a.values()) == pytest.approx(sorted(b.values()), rel=1e-5)


def test_hooks_act_only_inside_stepping():
    layer = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    steps = BackwardSteps()
    with steps.stepping(opt):
        layer(torch.ones(1, 3)).sum().backward()
    assert all(p.grad is None for p in layer.parameters())
    before = [p.detach().clone() for p in layer.parameters()]
    layer(torch.ones(1, 3)).sum().backward()  # outside: an ordinary backward
    assert all(p.grad is not None for p in layer.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))


def test_learning_rate_changes_reach_the_hooks_after_load_state_dict():
    """load_state_dict replaces the optimizer's group dicts; the hooks must read the live ones."""
    torch.manual_seed(0)
    layers = [torch.nn.Linear(3, 2) for _ in range(2)]
    opts = [torch.optim.Adam(layer.parameters(), lr=0.1, fused=True) for layer in layers]
    steps = BackwardSteps()
    layers[1].load_state_dict(layers[0].state_dict())
    for opt, layer in zip(opts, layers):
        with steps.stepping(opt):  # hooks attached with the first group dicts
            layer(torch.ones(1, 3)).sum().backward()
    for opt in opts:
        opt.load_state_dict(opt.state_dict())  # as a resume does: new group dicts
        opt.param_groups[0]["lr"] = 0.001
    with steps.stepping(opts[0]):
        layers[0](torch.ones(1, 3)).sum().backward()
    layers[1](torch.ones(1, 3)).sum().backward()  # the classic step, for comparison
    opts[1].step()
    for a, b in zip(layers[0].parameters(), layers[1].parameters()):
        assert torch.equal(a, b)


def test_the_private_step_is_checked_against_adam_and_refused_where_it_differs(monkeypatch):
    from pix2pix.training import backward_step

    opt = torch.optim.Adam([torch.zeros(4, requires_grad=True)], lr=1e-3, fused=True)
    assert backward_step.supports(opt)  # this torch: bit-identical, so used
    backward_step._reproduces_adam.cache_clear()
    monkeypatch.setattr(backward_step, "adam", lambda *a, **k: None)  # another torch's internals: no update
    assert not backward_step.supports(opt)
    backward_step._reproduces_adam.cache_clear()
