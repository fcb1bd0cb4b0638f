"""Mixed precision in training: backward and step, loss scaling, clipping, the NaN policy."""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..runtime.precision import Autocast, resolve_precision
from . import backward_step


def resolve_step_in_backward(setting: str, device: torch.device, keeps_freed_memory: bool) -> bool:
    """auto: on for CPU where the run keeps freed memory in the process (``keep_freed_memory=True``,
    as the ``pix2pix`` command trains). Freeing each gradient right after
    its update otherwise hands 33 MB blocks back to the OS and faults them in again every step
    (measured 220 ms per step with the allocator setting, 276 without; 225-244 ms stepping after backward)."""
    if setting != "auto":
        return setting == "true"
    return device.type == "cpu" and keeps_freed_memory


class Precision(Autocast):
    """Autocast for forward passes and backward+step with a GradScaler for fp16, gradient clipping,
    the NaN policy and the Adam-inside-backward option."""

    def __init__(
        self,
        kind: str,
        device: torch.device,
        channels_last: bool = False,
        skip_nonfinite: bool = False,
        any_rank: Callable[[bool], bool] | None = None,
        batch_size: int = 1,
        step_in_backward: bool = False,
        clip_grad_norm: float = 0.0,
    ) -> None:
        super().__init__(resolve_precision(kind, device, batch_size), device, channels_last, key="train.precision")
        self._scalers: dict[int, torch.amp.GradScaler] = {}
        self.skip_nonfinite = skip_nonfinite  # train.on_nan=skip: no update from a NaN/Inf loss
        self.any_rank = any_rank or (lambda flag: flag)  # under DDP every rank must skip together
        self.skipped = 0
        self.measure_grads = False  # set by the trainer on steps it logs
        self.grad_norms: dict[int, float] = {}  # id(optimizer) -> gradient norm of its parameters
        # Adam inside backward: not with fp16, whose loss scaler must see every gradient before any step,
        # nor with clipping, which must see the whole gradient's norm
        self.backward_steps = (backward_step.BackwardSteps() if step_in_backward and kind != "fp16" and not clip_grad_norm
                               else None)
        self.clip_grad_norm = clip_grad_norm
        self._clip_counts: dict[int, list[int]] = {}  # id(optimizer) -> [clipped steps, steps] since last read

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.skip_nonfinite and self.any_rank(not bool(torch.isfinite(loss.detach()).all())):
            optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            return
        if self.backward_steps is not None and backward_step.supports(optimizer):
            with self.backward_steps.stepping(optimizer, measure=self.measure_grads) as steps:
                loss.backward()
            if self.measure_grads:
                self.grad_norms[id(optimizer)] = steps.grad_norm()
            return
        if self.kind != "fp16":
            loss.backward()
            self._measure(optimizer)
            self._clip(optimizer)
            optimizer.step()
            return
        scaler = self._scalers.setdefault(id(optimizer), torch.amp.GradScaler("cuda"))
        scaler.scale(loss).backward()
        if self.measure_grads or self.clip_grad_norm:
            scaler.unscale_(optimizer)
        self._measure(optimizer)
        self._clip(optimizer)
        scaler.step(optimizer)
        scaler.update()

    def _clip(self, optimizer: torch.optim.Optimizer) -> None:
        """train.clip_grad_norm: scale the optimizer's whole gradient down to that norm, and count how often."""
        if not self.clip_grad_norm:
            return
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norm = float(torch.nn.utils.clip_grad_norm_(params, self.clip_grad_norm))
        counts = self._clip_counts.setdefault(id(optimizer), [0, 0])
        counts[0] += int(norm > self.clip_grad_norm)
        counts[1] += 1

    def clip_rates(self, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, float]:
        """Share of steps whose gradient was clipped, per optimizer, since the last call."""
        rates = {}
        for name, opt in optimizers.items():
            clipped, steps = self._clip_counts.pop(id(opt), [0, 0])
            if steps:
                rates[name] = clipped / steps
        return rates

    def _measure(self, optimizer: torch.optim.Optimizer) -> None:
        if not self.measure_grads:
            return
        grads = [p.grad.detach().float() for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        self.grad_norms[id(optimizer)] = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))) if grads else 0.0

    def state_dict(self, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {name: self._scalers[id(opt)].state_dict() for name, opt in optimizers.items() if id(opt) in self._scalers}

    def load_state_dict(self, state: dict[str, Any], optimizers: dict[str, torch.optim.Optimizer]) -> None:
        if self.kind != "fp16":
            return
        for name, opt in optimizers.items():
            if name in state:
                scaler = self._scalers.setdefault(id(opt), torch.amp.GradScaler("cuda"))
                scaler.load_state_dict(state[name])
