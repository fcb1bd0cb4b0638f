"""`pix2pix bench`: our training and inference against the research loop, measured in one run.

Every measurement runs in a fresh process (so its peak memory is its own),
with the same thread count and DataLoader workers on both sides, the same
images (demo:shapes pairs written as JPEG A|B files) and the same initial
weights. Printed: a table, then one JSON line with the ratios (ours / reference).

    pix2pix bench --quick     # 128 px, a few steps: checks that everything runs (< 3 min on 2 cores)
    pix2pix bench             # the measurement: 128, 256 and 512 px, quality at equal wall-clock at 256
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RECOMMENDED_BATCH = 8  # our throughput setting (README); batch 1 keeps the paper's dynamics


def bench_overrides(size: int, batch_size: int, workers: int, compile_: bool, device: str) -> list[str]:
    """Our recommended settings for the benchmark's task (everything else: the paper's defaults)."""
    return [
        f"data.crop_size={size}", f"data.load_size={round(size * 286 / 256)}", f"data.num_workers={workers}",
        "loss.gan_mode=lsgan", "model.generator=unet", "model.upsample=transposed", "train.ema_decay=0",  # the reference's networks
        f"train.batch_size={batch_size}", f"train.device={device}",
        "train.precision=auto", "train.channels_last=auto", f"train.compile={str(compile_).lower()}",
        "train.val_every=0", "train.sample_every=0", "train.checkpoint_every=0", "train.checkpoint_minutes=0",
        "train.log_every=0", "data.val_fraction=0",
    ]


# ---------------------------------------------------------------------- data and weights
def prepare(root: Path, size: int, train_count: int, test_count: int) -> Path:
    """DATA/{train,test}/N.jpg with A|B side by side, from demo:shapes at ``size``."""
    from PIL import Image

    from pix2pix.data.demo import make_pair

    folder = root / f"data{size}"
    for split, count in (("train", train_count), ("test", test_count)):
        (folder / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            a, b = make_pair(split, i, size)
            Image.fromarray(np.concatenate([a, b], axis=1)).save(folder / split / f"{i}.jpg", quality=95)
    return folder


def initial_weights(root: Path, size: int) -> Path:
    """G and D initialised once (seed 0) and shared by both sides."""
    from pix2pix.config import load_config
    from pix2pix.methods import build_method
    from pix2pix.training.trainer import seed_everything

    path = root / f"init{size}.pt"
    if not path.exists():
        cfg = load_config(None, bench_overrides(size, 1, 0, False, "cpu"))
        seed_everything(0)
        method = build_method(cfg, (3, 3), torch.device("cpu"))
        torch.save({"G": method.nets["G"].state_dict(), "D": method.nets["D"].state_dict()}, path)
    return path


def test_arrays(data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    from pix2pix.data.io import read_image

    pairs = []
    for file in sorted((data / "test").glob("*.jpg")):
        image = read_image(file)
        half = image.shape[1] // 2
        pairs.append((image[:, :half], image[:, half:]))
    return pairs


def peak_memory_mb() -> float:
    """Max RSS of this process (the data cache lives here). DataLoader workers are left out: they are
    forks whose RSS counts the parent's shared pages again, on both sides alike."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------- the two sides
def shared_nets(spec: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    """G and D with the shared initial weights, built by the project (the reference converts them)."""
    from pix2pix.config import load_config
    from pix2pix.methods import resolve
    from pix2pix.methods.base import discriminator_from_config, generator_from_config

    cfg = resolve(load_config(None, bench_overrides(spec["size"], 1, 0, False, "cpu")))
    G, D = generator_from_config(cfg, 3, 3), discriminator_from_config(cfg, 6)
    init = torch.load(spec["init"], weights_only=True)
    G.load_state_dict(init["G"])
    D.load_state_dict(init["D"])
    device = torch.device(spec["device"])
    return G.to(device), D.to(device)


def reference_train(spec: dict[str, Any]) -> tuple[Any, Any, torch.nn.Module]:
    """(step function, batch iterator, G) of the research loop."""
    import reference

    G, D = shared_nets(spec)
    loop = reference.ReferenceLoop(G, D)
    files = sorted((Path(spec["data"]) / "train").glob("*.jpg"))
    loader = reference.make_loader(files, round(spec["size"] * 286 / 256), spec["size"], spec["workers"], seed=0)
    device = torch.device(spec["device"])

    def batches():
        while True:
            for batch in loader:
                yield {k: v.to(device) for k, v in batch.items()}

    return (lambda batch: loop.step(batch)), batches(), G


def ours_train(spec: dict[str, Any], workdir: Path) -> tuple[Any, Any, torch.nn.Module, Any]:
    """(step function, batch iterator, G, trainer): the project's Trainer's per-step work (the method's
    step, NaN check, schedule, running means, health monitor), as `pix2pix train` runs it."""
    from pix2pix.allocator import keep_freed_memory
    from pix2pix.config import load_config
    from pix2pix.models import unwrap
    from pix2pix.training.trainer import Trainer

    keep_freed_memory()  # what the pix2pix train command does at start-up
    cfg = load_config(None, bench_overrides(spec["size"], spec["batch"], spec["workers"], spec.get("compile", False), spec["device"]))
    trainer = Trainer(cfg, spec["data"], workdir / "run", progress=False)
    init = torch.load(spec["init"], weights_only=True)
    unwrap(trainer.method.nets["G"]).load_state_dict(init["G"])
    unwrap(trainer.method.nets["D"]).load_state_dict(init["D"])
    batches = iter(trainer.make_loader())
    return (lambda batch: trainer.step_once(batch, total=10**9)), batches, unwrap(trainer.method.nets["G"]), trainer


def score(G: torch.nn.Module, pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """One scorer for both sides: L1 (0-1 scale) of G in per_image mode, fp32, on the held-out pairs."""
    from pix2pix.metrics import l1
    from pix2pix.inference import generate_arrays

    G = G.float().to(memory_format=torch.contiguous_format).cpu()
    outputs = generate_arrays(G, [a for a, _ in pairs], norm="per_image", seed=0)
    return float(np.mean([l1(out, b) for out, (_, b) in zip(outputs, pairs)]))


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_train(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if spec["side"] == "ref":
            step, batches, G = reference_train(spec)
            trainer = None
        else:
            step, batches, G, trainer = ours_train(spec, Path(tmp))
        batch_size = spec.get("batch", 1)
        started = time.perf_counter()
        for _ in range(spec["warmup"]):
            step(next(batches))
        _sync(spec["device"])
        warm = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(spec["steps"]):
            step(next(batches))
        _sync(spec["device"])
        elapsed = time.perf_counter() - started
        per_step = elapsed / spec["steps"]
        result = {"img_per_s": batch_size * spec["steps"] / elapsed,
                  "compile_s": max(0.0, warm - spec["warmup"] * per_step) if spec.get("compile") else 0.0}
        if trainer is not None:
            result["precision"] = trainer.precision.kind
            batch = next(batches)
            result["flops_per_image"] = counted_flops(lambda: step(batch)) / batch_size
        result["peak_mb"] = peak_memory_mb()
        if spec["device"].startswith("cuda"):
            result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        return result


def counted_flops(run: Any) -> float:
    """FLOPs of the convolutions and matmuls that ``run()`` executes (PyTorch's flop counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


def run_quality(spec: dict[str, Any]) -> dict[str, Any]:
    """Train for spec['seconds'] of wall-clock time from the shared initial weights and score.

    GAN losses wander from step to step, so the score is the mean held-out L1 at
    80%, 90% and 100% of the time (the scoring itself is not timed).
    """
    pairs = test_arrays(Path(spec["data"]))
    with tempfile.TemporaryDirectory() as tmp:
        if spec["side"] == "ref":
            step, batches, G = reference_train(spec)
        else:
            step, batches, G, _ = ours_train(spec, Path(tmp))
        before = score(copy.deepcopy(G), pairs) if spec["side"] == "ref" else None
        scores, steps, spent = [], 0, 0.0
        for fraction in (0.8, 0.9, 1.0):
            started = time.perf_counter()
            while spent + time.perf_counter() - started < fraction * spec["seconds"]:
                step(next(batches))
                steps += 1
            _sync(spec["device"])
            spent += time.perf_counter() - started
            scores.append(score(copy.deepcopy(G), pairs))
        return {"l1": float(np.mean(scores)), "l1_points": scores, "steps": steps,
                "images": steps * spec.get("batch", 1), "l1_start": before}


def run_infer(spec: dict[str, Any]) -> dict[str, Any]:
    pairs = test_arrays(Path(spec["data"]))
    images = [a for a, _ in pairs]
    G, _ = shared_nets(spec)
    if spec["side"] == "ref":
        import reference

        translate = lambda image: reference.reference_translate(G, image)  # noqa: E731
        compile_s = 0.0
    else:
        from pix2pix.config import load_config
        from pix2pix.inference import LoadedModel, Translator

        cfg = load_config(None, bench_overrides(spec["size"], 1, 0, False, spec["device"]))
        model = LoadedModel(cfg, "pix2pix", (3, 3), {"AtoB": G}, 0, Path("<bench>"))
        translator = Translator(model, device=spec["device"], scale="native", tile_size=0, **spec["options"])
        translate = lambda image: translator.translate_arrays([image])[0]  # noqa: E731
        started = time.perf_counter()
        translator.warm_up((1,))  # what the server does at start; compiles only where compiling is on / pays
        translate(images[0])
        compile_s = time.perf_counter() - started
        precision_used, compiled = translator.precision.kind, bool(translator.runner.compiled_shapes)
    for image in images[: spec["warmup"]]:
        translate(image)
    _sync(spec["device"])
    started = time.perf_counter()
    for i in range(spec["count"]):
        translate(images[i % len(images)])
    _sync(spec["device"])
    elapsed = time.perf_counter() - started
    result = {"img_per_s": spec["count"] / elapsed, "compile_s": compile_s, "peak_mb": peak_memory_mb()}
    if spec["side"] == "ref":
        result["flops_per_image"] = counted_flops(lambda: translate(images[0]))
    else:
        result.update(precision=precision_used, compiled=compiled)
    return result


def inference_variants(device: str) -> list[tuple[str, dict[str, Any]]]:
    """Our inference rows: the default path (no options), then each faster opt-in setting there is."""
    from pix2pix.runtime.precision import cpu_has_native_bf16

    variants: list[tuple[str, dict[str, Any]]] = [("default", {}), ("opt-in compile", {"compile": True})]
    if device == "cuda" or cpu_has_native_bf16():
        variants += [("opt-in bf16", {"precision": "bf16", "compile": False}),
                     ("opt-in bf16 + compile", {"precision": "bf16", "compile": True})]
    return variants


def run_peak(spec: dict[str, Any]) -> dict[str, Any]:
    """GFLOP/s of one large convolution and one large matmul, bf16 and fp32: the hardware's practical peak.

    The best of several timed runs: a shared machine's slow moments are not its peak."""
    from pix2pix.runtime.precision import cpu_has_native_bf16

    device = torch.device(spec["device"])
    results = {}
    kinds = [("fp32", torch.float32)]
    if device.type == "cuda" or cpu_has_native_bf16():  # elsewhere bf16 is emulated: minutes per conv, no peak
        kinds.insert(0, ("bf16", torch.bfloat16))
    for name, dtype in kinds:
        x = torch.randn(8, 256, 64, 64, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
        conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(device).to(dtype).to(memory_format=torch.channels_last)
        a, b = (torch.randn(2048, 2048, device=device).to(dtype) for _ in range(2))
        for kind, fn, flops in (("conv", lambda: conv(x), 2 * 8 * 256 * 256 * 9 * 64 * 64), ("matmul", lambda: a @ b, 2 * 2048**3)):
            best = float("inf")
            with torch.no_grad():
                fn()
                for _ in range(5):
                    _sync(spec["device"])
                    started = time.perf_counter()
                    for _ in range(3):
                        fn()
                    _sync(spec["device"])
                    best = min(best, (time.perf_counter() - started) / 3)
            results[f"{name}_{kind}_gflops"] = flops / best / 1e9
        results[f"{name}_gflops"] = max(results[f"{name}_conv_gflops"], results[f"{name}_matmul_gflops"])
    return results


TASKS = {"train": run_train, "quality": run_quality, "infer": run_infer, "peak": run_peak}


def worker(spec: dict[str, Any]) -> None:
    torch.set_num_threads(spec["threads"])
    print("RESULT " + json.dumps(TASKS[spec["task"]](spec)), flush=True)


def spawn(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one measurement in a fresh process and return its result."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"benchmark worker {spec['task']}/{spec['side']} failed: {' | '.join(tail)}")
    return json.loads(lines[-1][len("RESULT "):])


# ---------------------------------------------------------------------- orchestration
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"{cpu_model()} ({os.cpu_count()} cores)"


def ratios_of(figures: dict[str, Any], sizes: list[int], headline: int, batch: int) -> dict[str, float]:
    """Ours over the reference: speed (ours at its better batch size, and at batch 1), memory, L1."""
    def speed(size: int, side: str) -> float:
        return figures[str(size)][side]["img_per_s"]

    h = figures[str(headline)]
    ratios = {
        f"train_{headline}": max(speed(headline, "train_ours_b1"), speed(headline, f"train_ours_b{batch}")) / speed(headline, "train_ref"),
        f"train_{headline}_batch1": speed(headline, "train_ours_b1") / speed(headline, "train_ref"),
        f"infer_{headline}": speed(headline, "infer_ours") / speed(headline, "infer_ref"),
        f"memory_{headline}_batch1": h["train_ours_b1"]["peak_mb"] / h["train_ref"]["peak_mb"],
        f"quality_l1_{headline}": figures["quality"]["ours_b1"]["l1"] / figures["quality"]["reference"]["l1"],
    }
    for size in sizes:
        if size != headline:
            ratios[f"train_{size}"] = max(speed(size, "train_ours_b1"), speed(size, f"train_ours_b{batch}")) / speed(size, "train_ref")
            ratios[f"infer_{size}"] = speed(size, "infer_ours") / speed(size, "infer_ref")
    return ratios


def main(argv: list[str] | None = None) -> int:
    if "--quality" in (argv or []):  # the quality benchmark has its own options (benchmarks/quality.py)
        import quality

        return quality.main(argv)
    parser = argparse.ArgumentParser(prog="pix2pix bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="128 px, a few steps per side, no training compile (< 3 min)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads on both sides")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers on both sides")
    parser.add_argument("--seconds", type=float, default=None, help="training time per side for the quality comparison")
    parser.add_argument("--sizes", default=None, help="comma-separated image sizes (default 128,256,512; quick: 128)")
    parser.add_argument("--batch", type=int, default=RECOMMENDED_BATCH, help="our throughput batch size")
    parser.add_argument("--compile-train", action="store_true", help="also torch.compile our training networks")
    parser.add_argument("--json", metavar="FILE", help="also write all figures to FILE")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device)
    if device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    quick = args.quick
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([128] if quick else [128, 256, 512])
    headline = 256 if 256 in sizes else sizes[0]
    seconds = args.seconds if args.seconds is not None else (6.0 if quick else 120.0)
    steps = dict(warmup=2, steps=3) if quick else dict(warmup=3, steps=12)
    infer = dict(warmup=2, count=4) if quick else dict(warmup=3, count=16)
    timeout = 600 if quick else 3600
    base = {"device": device, "threads": args.threads, "workers": args.workers}
    rows: list[tuple[str, ...]] = []
    figures: dict[str, Any] = {"device": device_name(device), "torch": torch.__version__, "threads": args.threads,
                               "workers": args.workers, "quick": quick}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        peak = spawn({**base, "task": "peak", "side": "-"}, timeout)
        figures["peak"] = peak
        for size in sizes:
            data = prepare(root, size, train_count=16 if quick else 40, test_count=4 if quick else 16)
            spec = {**base, "size": size, "data": str(data), "init": str(initial_weights(root, size))}
            heavy = dict(warmup=steps["warmup"], steps=max(2, steps["steps"] // 2)) if size >= 512 else steps
            ref = spawn({**spec, "task": "train", "side": "ref", **heavy}, timeout)
            ours1 = spawn({**spec, "task": "train", "side": "ours", "batch": 1, **heavy}, timeout)
            oursn = spawn({**spec, "task": "train", "side": "ours", "batch": args.batch, "compile": args.compile_train and not quick, **heavy}, timeout)
            iref = spawn({**spec, "task": "infer", "side": "ref", **infer}, timeout)
            variants = inference_variants(device) if not quick else inference_variants(device)[:1]
            iours = {name: spawn({**spec, "task": "infer", "side": "ours", "options": options, **infer}, timeout)
                     for name, options in variants}
            figures[str(size)] = {"train_ref": ref, "train_ours_b1": ours1, f"train_ours_b{args.batch}": oursn,
                                  "infer_ref": iref, "infer_ours": iours["default"], "infer_ours_variants": iours}
            for label, r in (("reference (fp32, batch 1)", ref), (f"ours, default: batch 1 ({ours1.get('precision')})", ours1),
                             (f"ours, opt-in batch {args.batch} ({oursn.get('precision')})", oursn)):
                gflops = r["img_per_s"] * ours1["flops_per_image"] / 1e9
                rows.append((f"{size}px", "train", label, f"{r['img_per_s']:.2f}", f"{r['img_per_s'] / ref['img_per_s']:.2f}x",
                             f"{r['peak_mb']:.0f}", f"{gflops:.0f}", f"{r.get('compile_s', 0):.0f}"))
            labels = [(name if name != "default" else "ours, default (no options)", r) for name, r in iours.items()]
            for label, r in [("reference (fp32, batch 1, train mode)", iref)] + [
                    (f"{label} ({r['precision']}{', compiled' if r['compiled'] else ', eager'})", r) for label, r in labels]:
                gflops = r["img_per_s"] * iref["flops_per_image"] / 1e9
                rows.append((f"{size}px", "infer", label, f"{r['img_per_s']:.2f}", f"{r['img_per_s'] / iref['img_per_s']:.2f}x",
                             f"{r['peak_mb']:.0f}", f"{gflops:.0f}", f"{r.get('compile_s', 0):.0f}"))
        data = root / f"data{headline}"
        spec = {**base, "size": headline, "data": str(data), "init": str(root / f"init{headline}.pt"), "seconds": seconds}
        qref = spawn({**spec, "task": "quality", "side": "ref"}, timeout + seconds)
        qours = spawn({**spec, "task": "quality", "side": "ours", "batch": 1}, timeout + seconds)
        figures["quality"] = {"seconds": seconds, "reference": qref, "ours_b1": qours}
    h = figures[str(headline)]
    ratios = ratios_of(figures, sizes, headline, args.batch)
    # What the hardware allows: every FLOP at the measured peak of our training precision, nothing else.
    peak_kind = "bf16" if "bf16_gflops" in figures["peak"] else "fp32"
    peak_flops = figures["peak"][f"{peak_kind}_gflops"] * 1e9
    bounds = {
        f"train_{headline}": peak_flops / h["train_ours_b1"]["flops_per_image"] / h["train_ref"]["img_per_s"],
        f"infer_{headline}": peak_flops / h["infer_ref"]["flops_per_image"] / h["infer_ref"]["img_per_s"],
    }
    figures["ratios"], figures["bounds"] = ratios, bounds
    figures["seconds_total"] = time.perf_counter() - started
    header = ("size", "task", "side", "img/s", "vs ref", "peak MB", "GFLOP/s", "compile s")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"pix2pix bench on {figures['device']}, torch {torch.__version__}, {args.threads} threads, "
          f"{args.workers} DataLoader worker(s) per side{' (quick: ratios indicative only)' if quick else ''}")
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print("peak (best of one large conv / matmul): " + ", ".join(
        f"{kind} {peak[f'{kind}_gflops']:.0f} GFLOP/s (conv {peak[f'{kind}_conv_gflops']:.0f}, matmul {peak[f'{kind}_matmul_gflops']:.0f})"
        for kind in ("bf16", "fp32") if f"{kind}_gflops" in peak))
    print(f"hardware bound at {headline}px (every FLOP at the {peak_kind} peak): training at most {bounds[f'train_{headline}']:.1f}x "
          f"the reference, inference at most {bounds[f'infer_{headline}']:.1f}x")
    q = figures["quality"]
    print(f"quality after {seconds:g} s of training each at {headline}px (held-out L1, lower is better): "
          f"reference {q['reference']['l1']:.4f} ({q['reference']['steps']} steps), "
          f"ours {q['ours_b1']['l1']:.4f} ({q['ours_b1']['steps']} steps); untrained {q['reference']['l1_start']:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    print(json.dumps({"ratios": {k: round(v, 3) for k, v in ratios.items()}, "bounds": {k: round(v, 2) for k, v in bounds.items()},
                      "device": figures["device"], "quick": quick}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
