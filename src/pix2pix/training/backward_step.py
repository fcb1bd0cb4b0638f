"""Adam steps taken inside backward, each weight as soon as its gradient is complete.

Stepping after the whole backward keeps every gradient alive at once (218 MB
for the 256 px U-Net); stepping each parameter from its post-accumulate-grad
hook and dropping its gradient right away keeps at most one (33.5 MB), while
the gradient is still in cache. Each parameter gets exactly the update the
optimizer's own step would give it (same state, same kernel: bit-identical,
tested), and optimizer state dicts are unchanged, so checkpoints do not care.

Not used with DDP (gradients are all-reduced after accumulation) nor with fp16
loss scaling (the step depends on every gradient being finite).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch.optim.adam import adam


def supports(optimizer: torch.optim.Optimizer) -> bool:
    """Plain torch Adam (what the methods build), on a torch where the per-parameter step below
    reproduces ``Adam.step`` bit for bit (checked once; it uses Adam's internal ``_init_group``,
    whose signature is not public, so any other torch falls back to the ordinary step)."""
    return type(optimizer) is torch.optim.Adam and _reproduces_adam(bool(optimizer.defaults.get("fused")))


@functools.lru_cache(maxsize=None)
def _reproduces_adam(fused: bool) -> bool:
    try:
        generator = torch.Generator().manual_seed(0)
        start = torch.randn(64, generator=generator)
        grads = [torch.randn(64, generator=generator) for _ in range(3)]
        ours, theirs = start.clone().requires_grad_(True), start.clone().requires_grad_(True)
        opt_ours = torch.optim.Adam([ours], lr=1e-2, betas=(0.5, 0.999), fused=fused)
        opt_theirs = torch.optim.Adam([theirs], lr=1e-2, betas=(0.5, 0.999), fused=fused)
        for grad in grads:
            ours.grad, theirs.grad = grad.clone(), grad.clone()
            with torch.no_grad():
                _adam_step_one(opt_ours, opt_ours.param_groups[0], ours)
            opt_theirs.step()
        return torch.equal(ours, theirs)
    except Exception:  # noqa: BLE001 - another torch's internals: use the ordinary step
        return False


class BackwardSteps:
    """Installs the hooks once per optimizer; they act only inside ``stepping(optimizer)``."""

    def __init__(self) -> None:
        self._hooked: set[int] = set()
        self._active: torch.optim.Optimizer | None = None
        self._squares: torch.Tensor | None = None

    def _attach(self, optimizer: torch.optim.Optimizer) -> None:
        if id(optimizer) in self._hooked:
            return
        for index, group in enumerate(optimizer.param_groups):  # by index: load_state_dict replaces the group dicts
            for param in group["params"]:
                param.register_post_accumulate_grad_hook(functools.partial(self._on_grad, optimizer, index))
        self._hooked.add(id(optimizer))

    @contextmanager
    def stepping(self, optimizer: torch.optim.Optimizer, measure: bool = False) -> Iterator["BackwardSteps"]:
        """Run ``loss.backward()`` inside: ``optimizer``'s parameters are updated as their gradients arrive.

        With ``measure``, ``grad_norm()`` afterwards is the norm of all gradients, as the trainer logs it."""
        self._attach(optimizer)
        self._active, self._squares = optimizer, (torch.zeros((), dtype=torch.float64) if measure else None)
        try:
            yield self
        finally:
            self._active = None

    def grad_norm(self) -> float:
        return float(self._squares.sqrt()) if self._squares is not None else 0.0

    def _on_grad(self, optimizer: torch.optim.Optimizer, group_index: int, param: torch.Tensor) -> None:
        if self._active is not optimizer or param.grad is None:
            return  # a backward outside stepping(): leave the gradient where it is
        with torch.no_grad():
            if self._squares is not None:
                self._squares += param.grad.detach().double().square().sum().cpu()
            _adam_step_one(optimizer, optimizer.param_groups[group_index], param)
        param.grad = None


def _adam_step_one(optimizer: torch.optim.Optimizer, group: dict[str, Any], param: torch.Tensor) -> None:
    """What ``Adam.step`` does for ``param`` within ``group``."""
    params: list[torch.Tensor] = []
    grads: list[torch.Tensor] = []
    exp_avgs: list[torch.Tensor] = []
    exp_avg_sqs: list[torch.Tensor] = []
    max_exp_avg_sqs: list[torch.Tensor] = []
    steps: list[torch.Tensor] = []
    has_complex = optimizer._init_group({**group, "params": [param]}, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps)  # type: ignore[attr-defined]
    beta1, beta2 = group["betas"]
    adam(
        params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
        amsgrad=group["amsgrad"], has_complex=has_complex, beta1=beta1, beta2=beta2, lr=group["lr"],
        weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"], foreach=group["foreach"],
        capturable=group["capturable"], differentiable=group["differentiable"], fused=group["fused"],
        decoupled_weight_decay=group["decoupled_weight_decay"],
    )
