"""When to torch.compile a generator for inference, and running it compiled where that pays.

Compiling costs seconds before the first compiled call (inductor, weights frozen
as constants) and then runs every call faster. Whether that pays depends on
how many images follow, so ``AutoCompiledRunner`` decides per input shape:

- told how many images follow (``translate`` and ``test`` know), it runs the
  first call of a shape eagerly, times it, and compiles for the rest of that
  shape only when the time saved on them exceeds the compile cost;
- told nothing (a ``Translator`` in a notebook or a program), it runs a shape
  eagerly until the eager time spent on it equals the compile cost, then
  compiles (at most twice the best possible time, whatever the count).

Compiler options are scoped to this compile call; nothing process-wide is
changed. If no compiler works here (no C++ toolchain, an unsupported op), the
first failure prints one warning and every later call runs eagerly.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import nullcontext
from typing import Any, Literal

import torch
from torch import nn

CompileSetting = Literal["auto", "true", "false"]

# Seconds to compile the 256 px U-Net, per device type, rounded up from measurements
# (benchmarks/results/performance.md, "Inference speed"): 26-34 s on a 2-core AMD EPYC Zen 2 with a cold inductor cache (7 s on
# a Zen 5 with a warm one). Conservative: a wrong "no" costs some speed, a wrong "yes" a
# compile that is never repaid.
COMPILE_SECONDS = {"cpu": 30.0, "cuda": 40.0}
# Speed-up of a compiled call over an eager one, per (device type, precision), measured at
# 256 px, batch 1: CPU bf16 4.3x (Zen 5 with AVX512-BF16: 10.7 -> 46 img/s); CPU fp32 0.73-0.82x
# (Zen 2, AVX2: compiled is slower than eager, whose inner layers run as one matmul each), so
# auto never compiles there; CUDA 3x and more (H100, bf16 with CUDA graphs).
COMPILED_SPEEDUP = {("cpu", "bf16"): 4.0, ("cpu", "fp32"): 0.8, ("cuda", "bf16"): 3.0, ("cuda", "fp16"): 3.0,
                    ("cuda", "fp32"): 2.0}


def compile_options(device: torch.device) -> dict[str, Any]:
    """Inductor settings for this call only: weights frozen as constants (without it bf16 inference
    compiles slower than eager), and CUDA graphs on GPUs, where a batch-1 call is launch-bound
    (measured 3.8x over the default mode on an H100)."""
    options: dict[str, Any] = {"freezing": True}
    if device.type == "cuda":
        options["triton.cudagraphs"] = True
    return options


def resolve_compile(setting: bool | str | None) -> CompileSetting:
    if setting is None:
        return "auto"
    if isinstance(setting, bool):
        return "true" if setting else "false"
    if setting not in ("auto", "true", "false"):
        from ..errors import ConfigError

        raise ConfigError(f"inference.compile: '{setting}' is not one of auto, true, false")
    return setting  # type: ignore[return-value]


class AutoCompiledRunner:
    """Callable like the network; routes each input shape to the eager or the compiled network.

    Args:
        net: the generator (already on its device, in its memory layout).
        mode, seed: the inference mode (per_image, eval) and dropout seed of the calls, fixed in the compiled copy.
        setting: true (compile every shape at its first call), false (never) or auto (see module
            docstring; auto is false where compiled calls are measured not to be faster).
        precision: the precision the calls run in (fp32, bf16, fp16): the speed-up depends on it.
        expected_images: how many images the caller will translate, if it knows.
    """

    def __init__(self, net: nn.Module, device: torch.device, setting: CompileSetting, precision: str = "fp32",
                 expected_images: int | None = None, mode: str = "eval", seed: int = 0) -> None:
        self.net, self.device, self.setting = net, device, setting
        self.mode, self.seed = mode, seed  # the inference mode the compiled copy has fixed in it
        self.remaining = expected_images
        self.compile_seconds = COMPILE_SECONDS.get(device.type, COMPILE_SECONDS["cpu"])
        self.speedup = COMPILED_SPEEDUP.get((device.type, precision), 1.0)
        if setting == "auto" and self.speedup <= 1.0:
            self.setting = "false"  # compiling never pays here (see COMPILED_SPEEDUP)
        self._compiled: nn.Module | None = None
        self._eager_seconds: dict[tuple[int, ...], float] = {}  # shape -> eager time spent on it
        self._approved: set[tuple[int, ...]] = set()  # shapes that run compiled (compiled at their next call)
        self._compiled_shapes: set[tuple[int, ...]] = set()  # shapes compiled already
        self._lock = threading.Lock()
        self._replay_lock = threading.Lock()  # CUDA graph replays must not interleave
        self.failed = False
        self.compile_time: float | None = None

    @property
    def compiled_shapes(self) -> set[tuple[int, ...]]:
        return set(self._compiled_shapes)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        if not self.failed and (self.setting == "true" or shape in self._approved):
            return self._run_compiled(x, shape)
        started = time.perf_counter()
        y = self.net(x)
        if self.setting == "auto" and not self.failed:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self._account(shape, time.perf_counter() - started, x.shape[0])
        return y

    def approve(self, shape: tuple[int, ...]) -> None:
        """Run this input shape compiled from its next call on (a server's warm-up), unless compiling is off."""
        if self.setting != "false":
            with self._lock:
                self._approved.add(tuple(shape))

    # ------------------------------------------------------------------ decisions
    def _account(self, shape: tuple[int, ...], seconds: float, batch: int) -> None:
        with self._lock:
            if self.remaining is not None:
                self.remaining = max(0, self.remaining - batch)
            spent = self._eager_seconds.get(shape, 0.0) + seconds
            self._eager_seconds[shape] = spent
            if self._pays(spent, seconds, batch):
                self._approved.add(shape)

    def _pays(self, spent: float, per_call: float, batch: int) -> bool:
        saving = 1.0 - 1.0 / self.speedup
        if self.remaining is not None:  # known count: compile if the rest of the images repay it
            calls_left = self.remaining / max(batch, 1)
            return calls_left * per_call * saving > self.compile_seconds
        return spent >= self.compile_seconds  # unknown: rent until the rent equals the price

    # ------------------------------------------------------------------ running compiled
    def _compiled_net(self) -> nn.Module:
        """Compiled once, from a copy of the network with the inference mode fixed in its layers (the
        compiler sees one graph; the eager network keeps reading each call's context)."""
        if self._compiled is None:
            from ..models.layers import freeze_inference_mode

            frozen = self.net if self.mode == "frozen" else freeze_inference_mode(self.net, self.mode, self.seed)
            self._compiled = torch.compile(frozen, dynamic=False, options=compile_options(self.device))
        return self._compiled

    def _run_compiled(self, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        first = shape not in self._compiled_shapes
        started = time.perf_counter()
        try:
            if self.device.type == "cuda":
                with self._replay_lock:
                    y = self._compiled_net()(x)
                    y = y.clone()  # CUDA graph outputs are overwritten by the next replay
            else:
                with self._lock if first else nullcontext():
                    y = self._compiled_net()(x)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: warn once, run eagerly from now on
            self.failed = True
            message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            print(f"warning: torch.compile failed ({message}); translating without it", file=sys.stderr)
            return self.net(x)
        if first:
            self.compile_time = time.perf_counter() - started
            self._compiled_shapes.add(shape)
        return y
