"""The training loop shared by every method: data, schedule, logging, validation,
samples, checkpoints and exact resume. The method object does the maths of one step.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .. import allocator
from ..config import RESUMABLE_KEYS, Config, changed_keys, to_toml
from ..data.datasets import EpochBatchSampler, collate_pairs
from ..data.io import atomic_write
from ..stop_signals import NoStopRequest, StopRequest, ignore_in_worker
from ..errors import CheckpointError, ConfigError, TrainingDiverged, shown
from ..methods import Method, build_method, resolve
from ..models import unwrap
from ..runs import checkpoints as ckpt
from ..runs.logs import truncate_log
from .data_setup import open_training_data
from .logger import RunLogger, progress_bar
from .monitor import HealthMonitor
from . import distributed
from ..runtime.cpu_kernels import use_matmul_convolutions
from ..runtime.precision import resolve_channels_last, select_device
from .precision import Precision, resolve_step_in_backward
from .budget import TimeBudget
from .run_folder import prepare_run_dir, run_lock, write_run_files
from .schedule import batch_lr_factor, lr_factor


ReportHook = Callable[[Path], Any]  # called with the run folder after validations and at the end


@dataclass
class TrainResult:
    run: Path
    step: int
    status: str  # finished | interrupted | budget (train.max_minutes used up)
    best_val_l1: float | None
    last_val_l1: float | None
    is_main: bool = True  # False on ranks > 0 of a distributed run (they report nothing)
    val_measure: str = "L1"  # what the validation score is (the method's validator says: "L1", "cycle L1")


def seed_everything(seed: int) -> None:
    """One seed drives Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """One run: builds everything from the config, then ``run()`` trains to the stopping point."""

    def __init__(
        self,
        cfg: Config,
        data: str | Path,
        run: Path,
        *,
        state: dict[str, Any] | None = None,
        init_from: str | Path | None = None,
        progress: bool = True,
        report: ReportHook | None = None,
        handle_signals: bool = False,
        keep_freed_memory: bool = False,
    ) -> None:
        self.cfg = cfg = resolve(cfg)  # from here on the resolved, read-only config; the caller's is left as it was
        self.data_arg, self.paths = str(data), ckpt.RunPaths(Path(run))
        # the caller's opt-in decides, not whatever the process did before: the same call takes the same path
        self.keeps_freed_memory = keep_freed_memory and allocator.keep_freed_memory()
        self.report = report
        self.handle_signals = handle_signals
        self.dist = distributed.from_environment()
        self.progress = progress and self.dist.is_main
        seed_everything(cfg.train.seed)
        device = select_device(cfg.train.device)
        distributed.check_norm(cfg.model.norm, device)
        self.device = distributed.setup(self.dist, device)
        self.data = open_training_data(cfg, data, self.paths, self.progress)  # --no-progress: no decoding bars either
        self.method: Method = build_method(cfg, self.data.channels, self.device)
        if self.device.type == "cpu":  # a CPU kernel choice for the generators' weight-bound convolutions
            generators = set(self.method.generator_keys.values())
            for name, net in self.method.networks().items():
                if name.removesuffix("_ema") in generators:
                    use_matmul_convolutions(net)
        channels_last = resolve_channels_last(cfg.train.channels_last, self.device)
        self.precision = Precision(cfg.train.precision, self.device, channels_last,
                                   skip_nonfinite=cfg.train.on_nan == "skip", any_rank=lambda flag: distributed.any_rank(self.dist, flag)[0],
                                   batch_size=cfg.train.batch_size, clip_grad_norm=cfg.train.clip_grad_norm,
                                   step_in_backward=resolve_step_in_backward(cfg.train.step_in_backward, self.device,
                                                                             self.keeps_freed_memory)
                                   and not self.dist.enabled and cfg.train.clip_grad_norm == 0)  # clipping needs whole gradients
        if channels_last:
            for net in self.method.networks().values():
                net.to(memory_format=torch.channels_last)
        self.dataset = self.data.dataset
        self.step = self.epoch = self.batch_in_epoch = 0
        self.best_val: float | None = None
        self.last_val: float | None = None
        self.train_seconds = 0.0  # training-loop time of earlier sessions of this run
        if state is not None:
            self._restore(state)
        elif init_from is not None:
            self._init_from(Path(init_from))
        self.budget = TimeBudget(cfg.train.max_minutes, self.train_seconds)
        if self.dist.enabled:
            sync = cfg.model.norm == "sync_batch"
            self.method.wrap_networks(lambda net: distributed.wrap(net, self.dist, self.device, sync))
            if self.dist.rank > 0:  # per-rank randomness (dropout, pools) after identical initial weights
                torch.manual_seed(cfg.train.seed * 1_000_003 + self.dist.rank + self.step)
        if cfg.train.compile:
            self.method.wrap_networks(torch.compile)
        self.sampler = EpochBatchSampler(
            len(self.dataset), cfg.train.batch_size, cfg.train.seed, start_epoch=self.epoch, start_batch=self.batch_in_epoch,
            rank=self.dist.rank, world_size=self.dist.world_size,
        )
        tensorboard = self.paths.root / "tensorboard" if cfg.train.tensorboard else None
        self.logger = RunLogger(self.paths.log, tensorboard, enabled=self.dist.is_main)
        self.monitor = HealthMonitor(cfg.loss.gan_mode, self.method.health_signals)
        self.last_warning: str | None = None
        self._sums: dict[str, float] = {}  # running sums of the logged values since the last log line
        self._count = 0
        self._rates = self._set_lr()
        self._bar = progress_bar(0, 0, enabled=False)  # run() makes the real one

    # ------------------------------------------------------------------ state
    @property
    def total_steps(self) -> int:
        t = self.cfg.train
        schedule = (t.n_epochs + t.n_epochs_decay) * self.sampler.batches_per_epoch
        return min(t.max_steps, schedule) if t.max_steps else schedule

    def _state(self, full: bool) -> dict[str, Any]:
        state = ckpt.base_state(self.cfg, self.method.name, self.data.channels, self.method.networks())
        state.update(step=self.step, epoch=self.epoch, batch_in_epoch=self.batch_in_epoch, best_val_l1=self.best_val,
                     val_l1=self.last_val, data=self.data_arg, input_palette=self.data.input_palette,
                     train_seconds=self.budget.used())
        if full:
            optimizers = self.method.optimizers()
            state.update(
                optimizers={name: opt.state_dict() for name, opt in optimizers.items()},
                scalers=self.precision.state_dict(optimizers),
                extra=self.method.extra_state(),
                rng=ckpt.rng_state(),
                batch_size=self.cfg.train.batch_size,
                world_size=self.dist.world_size,
            )
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        for name, net in self.method.networks().items():
            net.load_state_dict(state["networks"][name])
        optimizers = self.method.optimizers()
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.precision.load_state_dict(state.get("scalers", {}), optimizers)
        self.method.load_extra_state(state.get("extra", {}))
        self.step, self.epoch, self.batch_in_epoch = int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.dist.world_size:  # N processes -> M: keep the share of the epoch already seen
            self.batch_in_epoch = self.batch_in_epoch * saved_world // self.dist.world_size
        self.best_val, self.last_val = state.get("best_val_l1"), state.get("val_l1")
        self.train_seconds = float(state.get("train_seconds", 0.0))
        ckpt.set_rng_state(state["rng"])

    def _init_from(self, path: Path) -> None:
        """Fine-tuning: start from another run's network weights (not a resume). A generator starts from
        the source's weight average when the source kept one (the weights it was validated and tested
        with), else from its trained weights; this run's average, if on, starts from the same weights."""
        source = ckpt.load_checkpoint(ckpt.find_model_checkpoint(path, "latest"))
        weights = source["networks"]
        taken = []
        for name, net in self.method.networks().items():
            base = name[: -len("_ema")] if name.endswith("_ema") else name
            key = f"{base}_ema" if f"{base}_ema" in weights else base
            if key not in weights:
                raise CheckpointError(f"--init-from {shown(path)}: has no '{base}' network (a {source.get('method')} run)")
            try:
                net.load_state_dict(weights[key])
            except RuntimeError as exc:
                raise CheckpointError(f"--init-from {shown(path)}: {name} does not fit this config ({str(exc).splitlines()[0]})") from None
            if not name.endswith("_ema"):
                taken.append(f"{name} <- {key}")
        if self.dist.is_main:
            print(f"--init-from {shown(path)}: {', '.join(taken)} (step {source.get('step', '?')})", file=sys.stderr)

    # ------------------------------------------------------------------ saving
    def save(self, periodic: bool) -> Path:
        """Write latest (and a periodic copy); rank 0 only, the others return at once."""
        folder = self.paths.checkpoints
        if not self.dist.is_main:
            return folder / ckpt.LATEST
        latest = folder / ckpt.LATEST
        target = self.paths.periodic(self.step) if periodic else latest
        try:
            ckpt.save_checkpoint(target, self._state(full=True))
            if periodic:
                ckpt.link_checkpoint(target, latest)
                ckpt.prune_periodic(folder, max(1, self.cfg.train.keep_checkpoints))
        except OSError as exc:
            kept = f"the previous checkpoint {shown(latest)} is intact" if latest.exists() else "no earlier checkpoint exists"
            raise CheckpointError(
                f"could not write the checkpoint at step {self.step} ({exc.strerror or exc}); {kept}; "
                "free some space and resume"
            ) from None
        return latest

    def _plain_generator(self, direction: str) -> nn.Module:
        """The generator to validate with: unwrapped; with synchronised batch norm, a plain copy."""
        net = unwrap(self.method.generator(direction))
        if self.cfg.model.norm != "sync_batch" or not self.dist.enabled:
            return net
        channels = self.data.channels if direction == "AtoB" else self.data.channels[::-1]
        copy = type(self.method).inference_generator(self.cfg, *channels).to(self.device)
        copy.load_state_dict(net.state_dict())
        return copy

    def _validate(self, samples: bool) -> None:
        if not self.dist.is_main:
            return
        val, image = self.data.validator.run(self._plain_generator, self.step, write_samples=samples)
        if image is not None:
            self.logger.image("samples", self.step, image)
        if val is None:
            return
        self.last_val = val
        self.logger.log("val", self.step, val_L1=val, measure=self.data.validator.measure, seconds=round(self.budget.used(), 3))
        if self.best_val is None or val < self.best_val:
            self.best_val = val
            ckpt.save_checkpoint(self.paths.checkpoints / ckpt.BEST, self._state(full=False))

    # ------------------------------------------------------------------ loop
    def _result(self, status: str) -> TrainResult:
        return TrainResult(self.paths.root, self.step, status, self.best_val, self.last_val, self.dist.is_main,
                           self.data.validator.measure)

    def _set_lr(self) -> dict[str, float]:
        factor = lr_factor(self.cfg.train, self.epoch) * batch_lr_factor(self.cfg.train)
        base = {"G": self.cfg.train.lr_g, "D": self.cfg.train.lr_d}
        rates = {}
        for name, opt in self.method.optimizers().items():  # every method names them G and D
            lr = base[name] * factor
            for group in opt.param_groups:
                group["lr"] = lr
            rates[f"lr_{name}"] = lr
        return rates

    def make_loader(self) -> DataLoader:
        """The endless stream of training batches, from the current position of the run."""
        workers = self.cfg.data.num_workers
        return DataLoader(
            self.dataset, batch_sampler=self.sampler, num_workers=workers, collate_fn=collate_pairs,
            pin_memory=self.device.type == "cuda", persistent_workers=workers > 0,
            worker_init_fn=ignore_in_worker,  # a stop signal to the process group is the main process's to handle
            generator=torch.Generator().manual_seed(self.cfg.train.seed),  # never draws from the global RNG
        )

    def run(self) -> TrainResult:
        """Train until max_steps / the schedule's end, the time budget, or a stop signal."""
        cfg = self.cfg.train
        total = self.total_steps
        if self.step >= total:
            print(f"run is already at step {self.step} (stopping point {total}); "
                  "raise train.max_steps to train further", file=sys.stderr)
            return self._result("finished")
        budget = self.budget
        if budget.exhausted():
            print(f"run has used its time budget (train.max_minutes={cfg.max_minutes:g}: {budget.used() / 60:.1f} "
                  "minutes of training); raise train.max_minutes to train further", file=sys.stderr)
            return self._result("budget")
        loader = self.make_loader()
        budget.start(self.step)
        last_checkpoint = time.monotonic()
        saved_step = -1
        status = "finished"
        if self.step == 0:
            self._validate(samples=True)
        self._bar = progress_bar(total, self.step, self.progress)
        self._rates = self._set_lr()
        stop = StopRequest() if self.handle_signals else NoStopRequest()
        with stop:
            batches = iter(loader)
            try:
                while self.step < total:
                    stop_now, out_of_time = self.step_once(next(batches), total, stop.requested)
                    due_samples = bool(cfg.sample_every and self.step % cfg.sample_every == 0)
                    if due_samples or (cfg.val_every and self.step % cfg.val_every == 0):
                        self._validate(samples=due_samples)
                        if due_samples:  # the report shows the sample grids: rebuild it with each new one
                            self._refresh_report()
                    periodic = bool(cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0)
                    timed = cfg.checkpoint_minutes and time.monotonic() - last_checkpoint >= cfg.checkpoint_minutes * 60
                    if periodic or timed or stop_now:
                        self.save(periodic=periodic)
                        last_checkpoint, saved_step = time.monotonic(), self.step
                    if stop_now or out_of_time:
                        status = "interrupted" if stop_now else "budget"
                        break
            finally:  # on any error too: no worker left to print its own traceback at exit
                _stop_workers(batches)
        if status == "budget":
            self._bar.total = self.step
        self._bar.close()
        if status in ("finished", "budget"):
            if not (cfg.val_every and self.step % cfg.val_every == 0):
                self._validate(samples=True)
            if saved_step != self.step:
                self.save(periodic=True)
        self._refresh_report()
        self.logger.close()
        distributed.barrier(self.dist)  # the others wait for rank 0's last checkpoint
        return self._result(status)

    def step_once(self, batch: dict[str, torch.Tensor], total: int, stop_requested: bool = False) -> tuple[bool, bool]:
        """One step with all the trainer's per-step work: the method's step, the NaN policy, the data
        position and learning-rate schedule, running means, the health monitor, the log line and the
        progress bar. Returns (stop requested, time budget used up), agreed by every rank."""
        cfg = self.cfg.train
        log_now = bool(cfg.log_every and ((self.step + 1) % cfg.log_every == 0 or self.step + 1 == total))
        self.precision.measure_grads = log_now
        losses = self.method.train_step(batch, self.precision)
        scalars = {k: float(v) for k, v in losses.items() if v.numel() == 1}
        bad = [name for name, value in scalars.items() if not math.isfinite(value)]
        stop_now, bad_anywhere, out_of_time = distributed.any_rank(
            self.dist, stop_requested, bool(bad), self.budget.exhausted())  # every rank stops at the same step
        if bad_anywhere:
            self._on_nan(bad, scalars)
        self.step += 1
        self.batch_in_epoch += 1
        if self.batch_in_epoch == self.sampler.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self._rates = self._set_lr()
        for key, value in scalars.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._count += 1
        for diagnosis in self.monitor.update(scalars, _array(losses.get("fingerprint_output")), _array(losses.get("fingerprint_target"))):
            self.logger.log("health", self.step, kind=diagnosis.kind, title=diagnosis.title,
                            message=diagnosis.message, suggestion=diagnosis.suggestion)
            self._bar.write(diagnosis.line(self.step), file=sys.stderr)
            self.last_warning = diagnosis.title
        self._bar.update(1)
        if self.budget.enabled and (log_now or self.step % 50 == 0):
            self._bar.total = self.budget.final_step(self.step, total)  # the ETA follows the budget
        if log_now:
            means = {k: v / self._count for k, v in self._sums.items()}
            means.update(self._diagnostics())
            self.logger.log("train", self.step, epoch=self.epoch, seconds=round(self.budget.used(), 3), **self._rates, **means)
            self._bar.set_postfix_str(_postfix(self.method.progress_keys, means, self.last_val, self.last_warning,
                                                   self.data.validator.measure),
                                      refresh=False)
            self._sums, self._count = {}, 0
        return stop_now, out_of_time

    def _diagnostics(self) -> dict[str, float]:
        """Gradient norms of this step, how often clipping acted since the last log, and the
        output/target spread of the monitor's window."""
        values = {f"grad_norm_{name}": self.precision.grad_norms[id(opt)]
                  for name, opt in self.method.optimizers().items() if id(opt) in self.precision.grad_norms}
        if self.cfg.train.clip_grad_norm > 0:
            values.update({f"clipped_{name}": rate for name, rate in self.precision.clip_rates(self.method.optimizers()).items()})
        spread = self.monitor.spread()
        if spread is not None:
            values["output_spread"], values["target_spread"] = spread
        return values

    def _on_nan(self, bad: list[str], losses: dict[str, float]) -> None:
        """A loss was NaN/Inf on some rank: skip (the optimizer steps were skipped) or stop, keeping the last checkpoint."""
        what = f"{bad[0]} became {losses[bad[0]]}" if bad else "a loss on another rank became NaN/Inf"
        self.logger.log("nan", self.step + 1, losses=bad)
        if self.cfg.train.on_nan == "skip":
            if self.dist.is_main:
                print(f"warning: {what} at step {self.step + 1}; its updates were skipped", file=sys.stderr)
            return
        kept = self.paths.checkpoints / ckpt.LATEST
        where = f"the last good checkpoint is {shown(kept)}" if kept.exists() else "no checkpoint was written"
        raise TrainingDiverged(
            f"{what} at step {self.step + 1}; training stopped and {where} "
            "(try a lower learning rate, or train.precision=fp32)"
        )

    def _refresh_report(self) -> None:
        """Run the report hook (``pix2pix.api`` passes the HTML report) after validations and at the end."""
        if not self.dist.is_main or self.report is None:
            return
        try:
            self.report(self.paths.root)
        except Exception as exc:  # noqa: BLE001 - a report must never kill training
            print(f"warning: could not write report.html ({exc})", file=sys.stderr)


def _array(value: torch.Tensor | None) -> np.ndarray | None:
    return None if value is None else value.detach().cpu().numpy()


def _postfix(short: dict[str, str], means: dict[str, float], val: float | None, warning: str | None = None,
             measure: str = "L1") -> str:
    """The progress bar's losses (the method's ``progress_keys``), the last validation score and any warning."""
    parts = [f"{label} {means[key]:.3g}" for key, label in short.items() if key in means]
    if val is not None:
        parts.append(f"val {measure} {val:.4f}")
    if warning:
        parts.append(f"! {warning}")
    return " ".join(parts)


# ---------------------------------------------------------------------- entry points
def train(
    config: Config,
    data: str | Path,
    out: str | Path,
    *,
    init_from: str | Path | None = None,
    progress: bool = True,
    report: ReportHook | None = None,
    handle_signals: bool = False,
    keep_freed_memory: bool = False,
) -> TrainResult:
    """Train a new run into ``out`` (which must not hold a run already).

    Args:
        config: the full configuration (see ``pix2pix.config``).
        data: dataset folder or ``demo:shapes``.
        out: run folder to create.
        init_from: run folder or checkpoint whose network weights start this run (fine-tuning).
        report: called with the run folder after validations and at the end (``pix2pix.api.train``
            passes the HTML report).
        handle_signals: turn SIGINT, SIGTERM and SIGHUP into "finish the step, save, stop" while
            training (the ``pix2pix`` command does); off by default, so that a program's own signal
            handling (a notebook's Ctrl-C) is left alone.
        keep_freed_memory: let glibc keep freed memory in the process for the next step
            (``pix2pix.allocator``; the ``pix2pix`` command does), which also turns
            ``train.step_in_backward=auto`` on for CPU; off by default: a process-wide setting.
    """
    run = Path(out)
    config = resolve(config)  # a config error stops the run before its folder is made
    main = distributed.from_environment().is_main
    with run_lock(run, main):
        if main:  # other ranks of a distributed run write nothing
            prepare_run_dir(run)
        data_arg = str(data) if str(data).startswith("demo:") else str(Path(data).resolve())
        trainer = Trainer(config, data_arg, run, init_from=init_from, progress=progress, report=report,
                          handle_signals=handle_signals, keep_freed_memory=keep_freed_memory)
        if main:
            write_run_files(trainer.cfg, run, data_arg, trainer.data)
        try:
            return trainer.run()
        finally:
            distributed.cleanup(trainer.dist)


def _stop_workers(batches: object) -> None:
    """Shut a DataLoader iterator's worker processes down now, not at interpreter exit."""
    shutdown = getattr(batches, "_shutdown_workers", None)  # multi-process iterators only
    if shutdown is not None:
        shutdown()


def resume(
    run: str | Path,
    overrides: list[str] | None = None,
    *,
    data: str | Path | None = None,
    progress: bool = True,
    report: ReportHook | None = None,
    handle_signals: bool = False,
    keep_freed_memory: bool = False,
) -> TrainResult:
    """Continue a run exactly where its newest intact checkpoint left it.

    Args:
        overrides: ``section.key=value`` changes; only the stopping point and
            logging/checkpoint intervals may change.
        data: a new location for the dataset, if it moved.
        handle_signals, keep_freed_memory: as for ``train``.
    """
    run = Path(run)
    if not run.is_dir():
        raise CheckpointError(f"{shown(run)}: run folder not found")
    main = distributed.from_environment().is_main
    with run_lock(run, main):
        return _resume_locked(run, overrides, data, progress, main, report, handle_signals, keep_freed_memory)


def _resume_locked(run: Path, overrides: list[str] | None, data: str | Path | None, progress: bool, main: bool,
                   report: ReportHook | None, handle_signals: bool, keep_freed_memory: bool) -> TrainResult:
    from ..config import apply_overrides

    state, path = ckpt.load_resumable(run)
    saved = ckpt.checkpoint_config(state)
    cfg = resolve(Config.from_dict(apply_overrides(saved.to_dict(), list(overrides or []))))
    changed = [key for key in changed_keys(saved, cfg) if key not in RESUMABLE_KEYS]
    if changed:
        raise ConfigError(
            f"--resume cannot change {changed[0]} (it would not continue the same run); only "
            "the stopping point and logging/checkpoint intervals may change. Start a new run with "
            f"--init-from {shown(run)} to fine-tune instead"
        )
    if "optimizers" not in state:
        raise CheckpointError(f"{shown(path)}: holds weights only, not a resumable training state")
    data_arg = str(data) if data is not None else state.get("data")
    if not data_arg:
        raise CheckpointError(f"{shown(path)}: does not say which data it was trained on; pass DATA")
    if main:
        truncate_log(ckpt.RunPaths(run).log, int(state["step"]))
        ckpt.remove_stale_temps(ckpt.RunPaths(run).checkpoints)
    trainer = Trainer(cfg, data_arg, run, state=state, progress=progress, report=report, handle_signals=handle_signals,
                      keep_freed_memory=keep_freed_memory)
    if main:
        atomic_write(ckpt.RunPaths(run).config, lambda fh: fh.write(to_toml(trainer.cfg)), mode="w")
    try:
        return trainer.run()
    finally:
        distributed.cleanup(trainer.dist)
