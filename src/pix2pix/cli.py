"""The ``pix2pix`` command: parses arguments, calls the library, maps errors to exit codes.

No logic lives here. A user error prints one line (``error: ...``) and exits
non-zero; a traceback means a bug in pix2pix.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .errors import Pix2PixError, shown

BENCH_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"

Handler = Callable[[argparse.Namespace], int]


def _print(*lines: str) -> None:
    for line in lines:
        print(line, flush=True)


# ---------------------------------------------------------------------- commands
def cmd_check_data(args: argparse.Namespace) -> int:
    from .config import load_config
    from .data.check import check_dataset

    from .methods import method_class

    cfg = load_config(args.config, ([f"data.task={args.task}"] if args.task else []) + args.set)
    if cfg.data.task != "paired":
        from .data.check import check_photos

        lines, usable = check_photos(args.data, cfg.data)
        _print(*lines)
        if usable == 0:
            print(f"error: no usable photos found in {shown(args.data)}", file=sys.stderr)
            return 1
        return 0
    report = check_dataset(args.data, cfg.data, unpaired=method_class(cfg.model.method).data_kind == "unpaired")
    _print(*report.lines())
    if report.usable_pairs == 0:
        print(f"error: no usable pairs found in {shown(args.data)}", file=sys.stderr)
        return 1
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .api import resume, train

    if args.nproc and "RANK" not in os.environ:
        from .launcher import launch

        return launch(args.nproc, args.argv)
    if args.resume:
        if args.config or args.preset or args.init_from:
            raise _usage("--resume continues a run with its saved config; --config, --preset and --init-from apply to new runs")
        result = resume(args.resume, args.set, data=args.data, progress=not args.no_progress, handle_signals=True,
                        keep_freed_memory=True)  # a training process keeps freed memory for its next step (see --help)
    else:
        from .config import load_config

        if not args.data or not args.out:
            raise _usage("train needs DATA and --out RUN (or --resume RUN)")
        presets, overrides = list(args.preset or []), list(args.set)
        if args.task:  # load_config adds the task's preset; --set still wins
            overrides = [f"data.task={args.task}"] + overrides
        cfg = load_config(args.config, overrides, presets)
        result = train(cfg, args.data, args.out, init_from=args.init_from, progress=not args.no_progress,
                       handle_signals=True, keep_freed_memory=True)
    stopped_code = 0 if os.environ.get("PIX2PIX_LAUNCHED") else 130  # under --nproc the launcher reports the stop
    if not result.is_main:
        return stopped_code if result.status == "interrupted" else 0
    best = f", best val {result.val_measure} {result.best_val_l1:.4f}" if result.best_val_l1 is not None else ""
    if result.status == "interrupted":
        _print(f"interrupted at step {result.step}; checkpoint saved. Resume with: pix2pix train --resume {shown(result.run)}")
        return stopped_code
    if result.status == "budget":
        _print(f"stopped at step {result.step}: the time budget (train.max_minutes) is used up{best}; checkpoint saved. "
               f"Continue with: pix2pix train --resume {shown(result.run)} --set train.max_minutes=MORE")
        return 0
    _print(f"done: step {result.step}{best}; run folder {shown(result.run)} (report: {shown(result.run / 'report.html')})")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from .evaluation.fcn_score import fcn_line, fcn_reference_line
    from .evaluation.realism import format_realism
    from .evaluation.report import write_run_report
    from .evaluation.testing import run_test

    result = run_test(args.run, args.data, args.split, which=args.checkpoint, out=args.out, norm=args.norm,
                      limit=args.limit, progress=not args.no_progress, precision=args.precision, compile=args.compile,
                      weights=args.weights, fcn_palette=args.fcn_score, fcn_recipe=_fcn_recipe(args),
                      fcn_cache=args.segmenter_cache, samples=args.samples, seed=args.seed)
    rows = "  ".join(f"{k} {v:.4f}" for k, v in result.mean.items())
    _print(f"{result.count} images: {rows}")
    if result.realism:
        _print(f"  {format_realism(result.realism)}")
    if "fcn_pixel_accuracy" in result.realism:
        _print(f"  {fcn_line(result.realism)}")
        _print(f"  {fcn_reference_line(result.fcn_reference)}")
    for name, scores in result.baselines.items():  # photo tasks: what a user would get otherwise
        _print(f"  baseline {name}: " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    _print(f"results: {shown(result.folder / 'index.html')}")
    if Path(args.run).is_dir() and (Path(args.run) / "config.toml").exists():
        write_run_report(args.run)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from .data.io import write_image
    from .errors import ImageError
    from .inference import Translator, as_array, iter_image_files, load_model, mask_for

    model = load_model(args.model, args.checkpoint, weights=args.weights)
    files = iter_image_files(args.inputs)
    if not files:
        raise _usage("no images to translate (folders are searched for image files, not recursively)")
    translator = Translator(model, direction=args.direction, device=args.device, norm=args.norm, scale=args.scale,
                            precision=args.precision, compile=args.compile, expected_images=len(files) * (args.samples or 1),
                            seed=args.seed)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _usage(f"--out {shown(out)}: is a file, expected a folder")
    if args.samples is not None:
        if args.z_from:
            raise _usage("--z-from gives one picture per input, in the example photo's style: leave out --samples")
        translator.check_samples(args.samples)
    code = translator.style_code(args.z_from) if args.z_from else None
    used: set[str] = set()
    failed = 0
    for path in files:
        try:
            image = as_array(path)
        except ImageError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            failed += 1
            continue
        name = path.stem
        while name in used:
            name += "_"
        used.add(name)
        try:
            if args.derive_input:
                inputs, masks, prepared = [translator.derived_input(image, path.name)], None, True
            else:
                inputs, masks, prepared = [image], [mask_for(args.mask, path)], False
            if args.samples is None:
                results = {name: translator.translate_arrays(inputs, prepared=prepared, masks=masks, latent=code)[0]}
            else:
                pictures = translator.sample_arrays(inputs, args.samples, prepared=prepared, masks=masks)[0]
                results = {f"{name}_{j}": picture for j, picture in enumerate(pictures)}
        except ImageError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            failed += 1
            continue
        targets = [write_image(result, out / f"{stem}.png") for stem, result in results.items()]
        _print(f"{shown(path)} -> {shown(targets[0])}" + (f" ... {targets[-1].name}" if len(targets) > 1 else ""))
    if failed:
        print(f"error: {failed} of {len(files)} input(s) could not be read", file=sys.stderr)
        return 1
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation.evaluate import evaluate_folders, format_table

    result = evaluate_folders(args.pred, args.target, out=args.out, fid=args.fid, kid=args.kid,
                              fid_weights=args.fid_weights, palette=args.palette, progress=not args.no_progress,
                              fcn_palette=args.fcn_score, fcn_labels=args.labels, fcn_train_data=args.train_data,
                              fcn_label_side=args.label_side, fcn_recipe=_fcn_recipe(args),
                              fcn_cache=args.segmenter_cache)
    _print(*format_table(result), f"metrics: {shown(result.path)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .evaluation.compare import compare_runs

    _print(*compare_runs(args.runs))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_model

    result = export_model(args.run, args.format, args.out, which=args.checkpoint, direction=args.direction,
                          norm=args.norm, fp16=args.fp16)
    size = result.path.stat().st_size / 2**20
    meta = result.metadata
    _print(f"exported {result.format} ({size:.1f} MiB) to {shown(result.path)}: {meta['input_channels']} -> "
           f"{meta['output_channels']} channels, sizes multiple of {meta['size_multiple']}, {meta['inference_norm']} mode",
           f"max difference to PyTorch on a test input: {result.max_diff:.2e}")
    limit = 1e-3 if not args.fp16 else 5e-2
    if result.max_diff > limit:
        print(f"error: exported model differs from PyTorch by {result.max_diff:.2e} (> {limit:g})", file=sys.stderr)
        return 1
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .research_import import import_research_generator

    run = import_research_generator(args.file, args.generator, args.out, norm=args.norm, direction=args.direction,
                                    overrides=args.set)
    _print(f"imported {shown(args.file)} as {args.generator} into {shown(run)}; try: pix2pix translate {shown(run)} IMAGE --out out/")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve.app import ServeOptions, serve

    options = ServeOptions(max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels, batch_window_ms=args.batch_window_ms,
                           workers=args.workers,
                           cors_origins=args.cors_origin, device=args.device, norm=args.norm,
                           precision=args.precision, compile=args.compile)
    serve(args.model, args.host, args.port, options)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from .data.download import dataset_list, download

    if args.list or not args.name:
        _print(*dataset_list())
        return 0 if args.list else 2
    if not args.to:
        raise _usage("download needs --to DIR")
    target = download(args.name, args.to, sha256=args.sha256, source=args.source, progress=not args.no_progress)
    _print(f"{args.name} is ready in {shown(target)}; check it with: pix2pix check-data {shown(target)}")
    return 0


def run_bench(bench_args: list[str]) -> int:
    """Options are passed through to benchmarks/bench.py untouched (argparse cannot forward '--quick')."""
    import importlib.util

    script = BENCH_SCRIPT
    if not script.exists():
        raise _usage("pix2pix bench runs the benchmarks/ folder of a source checkout (git clone, then make install)")
    spec = importlib.util.spec_from_file_location("pix2pix_bench", script)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.main(bench_args)


def cmd_report(args: argparse.Namespace) -> int:
    from .evaluation.report import write_run_report

    _print(f"report: {shown(write_run_report(args.run))}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo_run import run_demo

    return run_demo(Path(args.out), steps=args.steps, progress=not args.no_progress, handle_signals=True,
                    keep_freed_memory=True)


# ---------------------------------------------------------------------- parser
class _UsageError(Pix2PixError):
    pass


def _usage(message: str) -> _UsageError:
    return _UsageError(message)


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="TOML", help="config file (TOML) with [data], [model], [loss], [train], [inference] tables")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set train.max_steps=1000 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pix2pix",
        description="Image-to-image translation with conditional GANs: pix2pix (paired) and CycleGAN (unpaired).",
    )
    parser.add_argument("--version", action="version", version=f"pix2pix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("check-data", help="validate a dataset: layout, splits, pairs, sizes, channels, problems")
    p.add_argument("data", help="dataset folder or demo:shapes")
    _add_task_option(p)
    _add_config_options(p)
    p.set_defaults(func=cmd_check_data)

    p = sub.add_parser("train", help="train a model (or --resume a run)",
                       description="Train a model, or --resume a run. On glibc this command keeps freed memory in the "
                                   "process for reuse by the next step (pix2pix.allocator: 5-10%% faster CPU steps).")
    p.add_argument("data", nargs="?", help="dataset folder or demo:shapes (with --resume: only if the data moved)")
    p.add_argument("--out", help="run folder to create")
    _add_config_options(p)
    from .config import PRESETS, RENAMED_PRESETS

    _add_task_option(p)
    p.add_argument("--preset", action="append", choices=sorted([*PRESETS, *RENAMED_PRESETS]), metavar="NAME",
                   help=f"apply a preset ({', '.join(sorted(PRESETS))}); repeatable, later ones win (see docs/configuration.md)")
    p.add_argument("--resume", metavar="RUN", help="continue RUN exactly where it stopped")
    p.add_argument("--init-from", metavar="RUN_OR_CKPT", help="start a new run from these network weights (fine-tuning)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=_positive_int, help="train with N processes (DDP through torchrun, on one machine)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("test", help="translate a dataset split, write metrics.json and an HTML page")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("data", help="dataset folder or demo:shapes")
    p.add_argument("--split", default="test", help="split to translate (default: test)")
    p.add_argument("--checkpoint", default="best", help="best or latest (run folders; default: best)")
    _add_weights_option(p)
    p.add_argument("--out", help="output folder (default: RUN/results/SPLIT)")
    p.add_argument("--norm", choices=["per_image", "eval", "paper"], help="inference mode (default: the run's inference.norm; paper is the old name of per_image)")
    p.add_argument("--limit", type=_positive_int, help="translate only the first N pairs")
    p.add_argument("--samples", type=int, metavar="K",
                   help="also K sampled pictures per input, on the page and scored (diversity, best of K); default 8 "
                        "for models with a latent code, else 0 (none)")
    p.add_argument("--seed", type=int, help="seed of the samples and of dropout (default: the run's inference.seed)")
    _add_fcn_options(p, "label maps -> photos: also the FCN-score, through a segmenter trained on DATA's train split "
                        "and this palette (a built-in name: facades, or a JSON file)")
    p.add_argument("--no-progress", action="store_true")
    _add_speed_options(p)
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("translate", help="translate images of any size with a trained model")
    p.add_argument("model", help="run folder or checkpoint file")
    p.add_argument("inputs", nargs="+", help="image files or folders of images")
    p.add_argument("--out", required=True, help="output folder (outputs are named after the inputs: NAME.png)")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"], help="CycleGAN: which generator (default: AtoB)")
    p.add_argument("--checkpoint", default="best", help="best or latest (run folders; default: best)")
    _add_weights_option(p)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--norm", choices=["per_image", "eval", "paper"], help="inference mode (default: the run's inference.norm; paper is the old name of per_image)")
    p.add_argument("--scale", choices=["train", "native"], help="resize to the training scale (default) or run at native size")
    p.add_argument("--mask", metavar="FILE_OR_DIR", help="inpainting: the holes (white), one file for all inputs or a folder of NAME.png")
    p.add_argument("--derive-input", action="store_true",
                   help="photo tasks: make the task's input from each full photo first (for demonstrations)")
    p.add_argument("--samples", type=int, metavar="K",
                   help="K different pictures per input, NAME_0.png ... (models that sample: a latent code, or dropout "
                        "in per_image mode)")
    p.add_argument("--seed", type=int, help="seed of the samples and of dropout (default: the run's inference.seed)")
    p.add_argument("--z-from", metavar="PHOTO",
                   help="latent-code models: take the colours and materials of this example photo (its code from the encoder)")
    _add_speed_options(p)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("evaluate", help="score a folder of outputs against a folder of targets (L1, MSE, PSNR, SSIM, FID, KID)")
    p.add_argument("--pred", required=True, help="folder of generated images")
    p.add_argument("--target", required=True, help="folder of target images (paired by file stem, as check-data)")
    p.add_argument("--out", help="metrics file to write (default: PRED/metrics.json)")
    p.add_argument("--fid", action="store_true", help="also compute FID (needs the Inception weights file)")
    p.add_argument("--kid", action="store_true", help="also compute KID (better than FID for small sets)")
    p.add_argument("--fid-weights", metavar="PATH", help="pt_inception-2015-12-05-6726825d.pth (or $PIX2PIX_FID_WEIGHTS)")
    p.add_argument("--palette", help="segmentation scores for photo -> label outputs: 'facades' or a JSON palette file")
    _add_fcn_options(p, "label maps -> photos: also the FCN-score of the outputs through this palette (facades or a "
                        "JSON file); needs --labels and --train-data")
    p.add_argument("--labels", metavar="DIR", help="FCN-score: the label maps the outputs were made from (paired by stem)")
    p.add_argument("--train-data", metavar="DATA", help="FCN-score: the data set whose train split (real photos and "
                   "their label maps) trains the segmenter; never the test split")
    p.add_argument("--label-side", choices=["A", "B"], default="B",
                   help="FCN-score: which side of --train-data holds the label maps (default: B, as facades)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="compare runs: config differences and metrics side by side")
    p.add_argument("runs", nargs="+", help="run folders")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("export", help="export the generator: ONNX, TorchScript or safetensors weights")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("--format", required=True, choices=["onnx", "torchscript", "weights"])
    p.add_argument("--out", required=True, help="file to write (.onnx, .pt, .safetensors)")
    p.add_argument("--checkpoint", default="best", help="best or latest (run folders; default: best)")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"], help="CycleGAN: which generator")
    p.add_argument("--norm", choices=["per_image", "eval", "paper"], help="inference mode baked into the export (default: the run's; paper is the old name of per_image)")
    p.add_argument("--fp16", action="store_true", help="weights: store float16 (half the size)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="convert a research-code generator (latest_net_G.pth) into a run folder")
    p.add_argument("file", help="the research code's generator state dict")
    p.add_argument("--generator", required=True, choices=["unet_128", "unet_256", "resnet_6blocks", "resnet_9blocks"])
    p.add_argument("--norm", default="batch", choices=["batch", "instance", "none"], help="norm it was trained with (default: batch)")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"], help="recorded in the run's config")
    p.add_argument("--out", required=True, help="run folder to create")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="config values for the run (e.g. data.load_size=256)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("serve", help="REST API + drawing web page for a trained model")
    p.add_argument("model", help="run folder, checkpoint or exported file (.onnx, TorchScript, .safetensors)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--max-upload-mb", type=_positive_float, default=20.0, help="larger uploads get 413 (default 20)")
    p.add_argument("--max-pixels", type=_positive_int, default=25_000_000, help="larger images get 413 (default 25 megapixels)")
    p.add_argument("--batch-window-ms", type=_non_negative_float, default=10.0,
                   help="translate requests arriving within this window together (default 10; 0: one by one)")
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="batches translated at once, one thread each, sharing the model (default 1: on CPUs one batch uses every core)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="URL", help="allow this browser origin (repeatable; none by default)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--norm", choices=["per_image", "eval", "paper"], help="inference mode (default: the run's; paper is the old name of per_image)")
    _add_speed_options(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("download", help="download a standard pix2pix / CycleGAN dataset (only on this command)")
    p.add_argument("name", nargs="?", help="dataset name (see --list)")
    p.add_argument("--to", help="folder to put NAME/ into")
    p.add_argument("--list", action="store_true", help="list the datasets")
    p.add_argument("--sha256", help="expected sha256 of the archive")
    p.add_argument("--from", dest="source", metavar="FILE", help="use an archive downloaded by other means")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_download)

    if BENCH_SCRIPT.exists():  # a source checkout; an installed package has no benchmarks/ and does not offer it
        p = sub.add_parser("bench", help="speed, memory and quality against the research loop (see --help)", add_help=False)
        p.add_argument("bench_args", nargs=argparse.REMAINDER, help="options of benchmarks/bench.py: --quick, --device, ...")

    p = sub.add_parser("report", help="rebuild RUN/report.html")
    p.add_argument("run")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="train briefly on demo:shapes and show what was learned")
    p.add_argument("--out", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--steps", type=_positive_int, default=None, help="training steps (default: the demo's own)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def _add_task_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", choices=["paired", "colorization", "inpainting", "superres", "denoise", "edges"],
                   help="paired (the default) or a task that makes its input from photos alone (sets data.task and its preset)")


def _add_fcn_options(p: argparse.ArgumentParser, help_text: str) -> None:
    p.add_argument("--fcn-score", metavar="PALETTE", help=help_text)
    p.add_argument("--fcn-recipe", choices=["full", "quick"], default="full",
                   help="the segmenter's training: full (about 7 min on 2 CPU cores, once per data set; default) or "
                        "quick (seconds, a weak judge for plumbing checks only)")
    p.add_argument("--segmenter-cache", metavar="DIR",
                   help="where trained segmenters are kept (default ~/.cache/pix2pix/segmenters)")


def _fcn_recipe(args: argparse.Namespace):  # noqa: ANN202 - a SegmenterRecipe, imported lazily
    from .evaluation.fcn_score import FULL, QUICK

    return QUICK if args.fcn_recipe == "quick" else FULL


def _add_weights_option(p: argparse.ArgumentParser) -> None:
    """test and translate: which generator weights of a run (model_files.WEIGHTS)."""
    p.add_argument("--weights", default="average", choices=["average", "live"],
                   help="the weight average when the run kept one (train.ema_decay; default), or the trained weights")


def _add_speed_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"],
                   help="inference precision (default: the run's inference.precision, auto = bf16 where the hardware has it natively)")
    p.add_argument("--compile", default=None, action=argparse.BooleanOptionalAction,
                   help="torch.compile the generator (default: when the number of images repays the compile time)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    if text.strip() in ("0", "0.0"):
        return 0.0
    return _positive_float(text)


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from .stop_signals import interrupt_on_stop

        try:
            with interrupt_on_stop():
                return run_bench(argv[1:])
        except Pix2PixError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    args = parser.parse_args(argv)
    args.argv = argv
    from .stop_signals import interrupt_on_stop

    try:
        with interrupt_on_stop():  # SIGTERM / SIGHUP end a command like Ctrl-C (training saves first)
            return args.func(args)
    except Pix2PixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permission denied, ... on a path the user gave
        where = f" {shown(exc.filename)}" if exc.filename else ""
        print(f"error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
