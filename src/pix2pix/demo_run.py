"""``pix2pix demo`` / ``make demo``: a few minutes of training on demo:shapes, with proof.

Prints the held-out L1 of the untrained generator, of the trained one, and of a
baseline that paints every pixel in the mean target colour, then points at the
report and the test page.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from .config import Config, load_config
from .data.sources import open_pairs
from .errors import shown
from .evaluation.realism import format_realism
from .evaluation.report import write_run_report
from .evaluation.testing import mean_colour_baseline, run_test, translate_pairs
from .metrics import l1
from .inference import LoadedModel, Translator
from .methods import build_method
from .api import train
from .training.trainer import seed_everything

DEMO_DATA = "demo:shapes"
# Small enough for a 2-core CPU in a few minutes, big enough to learn the textures.
DEMO_SETTINGS = [
    "data.demo_size=128",
    "data.load_size=128",
    "data.crop_size=128",
    "data.num_workers=0",
    "model.ngf=32",
    "model.ndf=32",
    "train.batch_size=4",
    "train.lr_g=0.0005",
    "train.lr_d=0.0002",
    "train.lr_policy=constant",
    "train.val_every=250",
    "train.sample_every=250",
    "train.log_every=10",
    "train.val_images=40",
    "train.checkpoint_minutes=0",
]
DEMO_STEPS = 1500


def demo_config(steps: int) -> Config:
    return load_config(None, DEMO_SETTINGS + [f"train.max_steps={steps}"])


def untrained_l1(cfg: Config) -> float:
    """Held-out L1 of the generator exactly as training starts (same seed, same init)."""
    seed_everything(cfg.train.seed)
    device = torch.device("cpu")
    method = build_method(cfg, (3, 3), device)
    model = LoadedModel(cfg, cfg.model.method, (3, 3), {"AtoB": method.generator("AtoB")}, 0, Path("<untrained>"))
    translator = Translator(model, device="cpu")
    test = open_pairs(DEMO_DATA, "test", cfg.data)
    values = [l1(out, target) for _, _, out, target in translate_pairs(translator, test, cfg.data.direction, progress=False)]
    return sum(values) / len(values)


def run_demo(out: Path, steps: int | None = None, progress: bool = True, handle_signals: bool = False,
             keep_freed_memory: bool = False) -> int:
    cfg = demo_config(steps or DEMO_STEPS)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"demo: training pix2pix on {DEMO_DATA} (label map -> rendering, 128 px) for {cfg.train.max_steps} steps", flush=True)
    start_l1 = untrained_l1(cfg)
    started = time.monotonic()
    result = train(cfg, DEMO_DATA, out, progress=progress, handle_signals=handle_signals, keep_freed_memory=keep_freed_memory)
    minutes = (time.monotonic() - started) / 60
    test = run_test(out, DEMO_DATA, "test", which="latest", progress=False)
    end_l1 = test.mean["L1"]
    baseline = mean_colour_baseline(open_pairs(DEMO_DATA, "train", cfg.data), open_pairs(DEMO_DATA, "test", cfg.data), cfg.data.direction)
    write_run_report(out)
    drop = 100 * (1 - end_l1 / start_l1)
    print(
        f"\nheld-out L1 (test split, 0-1 scale, {test.count} pairs):\n"
        f"  untrained generator          {start_l1:.4f}\n"
        f"  mean-target-colour baseline  {baseline:.4f}\n"
        f"  after {result.step} steps ({minutes:.1f} min)  {end_l1:.4f}  ({drop:.0f}% below the start)\n"
        f"realism of the test outputs: {format_realism(test.realism)}\n"
        f"report:  {shown(out / 'report.html')}\n"
        f"results: {shown(test.folder / 'index.html')}",
        flush=True,
    )
    ok = end_l1 <= 0.7 * start_l1 and end_l1 < baseline
    if not ok:
        print("warning: the demo did not learn as expected (see the report)", file=sys.stderr)
    return 0 if ok else 1
