"""Every setting of a run, as one dataclass per subsystem.

Defaults are the best recipe we have measured on real held-out data
(benchmarks/results/recipe.md); ``--preset paper`` reproduces the pix2pix paper (Isola et al.,
2017) exactly, and the unpaired methods keep their papers' recipes. Keys that
differ between methods default to ``"auto"`` (or a negative number): the
chosen method fills them (``pix2pix.methods.resolve``), and the resolved value
is what a run saves.

Configs come from, in order: defaults, a TOML file (``--config``), a preset
(``--preset``), then ``--set section.key=value`` overrides.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

Direction = Literal["AtoB", "BtoA"]
Preprocess = Literal["resize_and_crop", "crop", "scale_width", "none"]


D_AUGMENT_POLICIES = ("color", "translation", "cutout")  # train.d_augment (pix2pix.models.augment)


def check(condition: bool, key: str, message: str) -> None:
    """A user's bad value: a ConfigError naming the key (config sections, shared and the methods' own)."""
    if not condition:
        raise ConfigError(f"{key}: {message}")


def check_weights(section: Any, name: str, keys: tuple[str, ...]) -> None:
    """Each of ``keys`` of ``section`` (named ``name`` in messages) is a loss weight: finite and >= 0."""
    for key in keys:
        value = getattr(section, key)
        check(math.isfinite(value) and value >= 0, f"{name}.{key}", "must be a finite number >= 0")


READ_ONLY = "a resolved config is read-only (change a copy: Config.copy())"


class Section:
    """A config section: read-only once its config is resolved (``Config.resolved``), since a resolved
    config is what a run computes with and saves; ``Config.copy()`` gives one to change."""

    _frozen = False

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"cannot set {name}: {READ_ONLY}")
        super().__setattr__(name, value)

    def _freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)


@dataclass
class DataConfig(Section):
    """How images are read, paired and augmented."""

    # AtoB: the model maps A (left half / A folder) to B; BtoA the other way.
    direction: Direction = "AtoB"
    # Paper: resize to 286, random-crop 256 ("random jitter"), random flip.
    preprocess: Preprocess = "resize_and_crop"
    # Paper: 286 -> 256 jitter.
    load_size: int = 286
    crop_size: int = 256
    # Paper: random mirroring, applied identically to A and B.
    flip: bool = True
    # Channels of the model's input / output: 0 reads them from the data
    # (1 when every image of that side is grey, else 3).
    input_channels: int = 0
    output_channels: int = 0
    # DataLoader worker processes; 0 decodes in the training process.
    num_workers: int = 2
    # Decode every image once into RAM when the decoded split fits in this many
    # MiB (faster epochs, and bad files are found before step 1); 0 disables.
    cache_mb: int = 2048
    # Share of train pairs held out for validation when DATA has no val split.
    val_fraction: float = 0.1
    # CycleGAN: draw A and B in a fixed order instead of independently at random.
    serial: bool = False
    # Size of the built-in demo:shapes images (pixels, square).
    demo_size: int = 128
    # paired: pairs from the data (A|B files or A/B folders). Any other task makes
    # the input from each photo of a folder of photos, after the jitter (docs/photo-tasks.md);
    # held-out inputs are drawn from each file's path.
    task: Literal["paired", "colorization", "inpainting", "superres", "denoise", "edges"] = "paired"
    # Photo tasks on an aligned A|B set: which half is the photo ("" = the whole file).
    photo_side: Literal["", "A", "B"] = ""
    # inpainting: holes (rectangles and free-form strokes) covering this share of the image.
    mask_min: float = 0.10
    mask_max: float = 0.25
    # superres: the input is the photo downscaled by this factor (PIL bicubic) and
    # upscaled back; translate takes the low-resolution image and returns it this much larger.
    scale_factor: int = 4
    # denoise: Gaussian noise of this sigma in 0-255 units ("25"; "15-50" draws one per
    # image), and/or JPEG artifacts at this quality (0 = none).
    noise_sigma: str = "25"
    jpeg_quality: int = 0
    # edges: Canny (scikit-image) on the grey photo: Gaussian sigma, then hysteresis
    # thresholds as quantiles of the gradient magnitude.
    canny_sigma: float = 2.0
    canny_low: float = 0.7
    canny_high: float = 0.9

    def __post_init__(self) -> None:
        check(0.0 <= self.mask_min <= self.mask_max < 1.0, "data.mask_min", "need 0 <= mask_min <= mask_max < 1")
        check(self.scale_factor in (2, 4), "data.scale_factor", "must be 2 or 4")
        sigmas = self.noise_sigma.split("-")
        try:
            values = [float(v) for v in sigmas]
        except ValueError:
            values = []
        check(len(values) in (1, 2) and all(0 <= v <= 255 for v in values) and values == sorted(values),
               "data.noise_sigma", "must be a number in 0-255, or a range low-high such as 15-50")
        check(self.jpeg_quality == 0 or 1 <= self.jpeg_quality <= 100, "data.jpeg_quality", "must be 0 (off) or 1-100")
        check(self.canny_sigma > 0, "data.canny_sigma", "must be > 0")
        check(0 <= self.canny_low <= self.canny_high <= 1, "data.canny_low", "need 0 <= canny_low <= canny_high <= 1 (quantiles)")
        check(self.task == "paired" or self.direction == "AtoB", "data.direction",
               "photo tasks translate their derived input to the photo: leave data.direction=AtoB")
        if self.task == "superres":
            check(self.crop_size % self.scale_factor == 0, "data.crop_size",
                   f"{self.crop_size} is not divisible by data.scale_factor={self.scale_factor}")
        check(self.load_size >= 1, "data.load_size", "must be a positive number of pixels")
        check(self.crop_size >= 1, "data.crop_size", "must be a positive number of pixels")
        if self.preprocess in ("resize_and_crop", "scale_width"):
            check(
                self.crop_size <= self.load_size,
                "data.crop_size",
                f"{self.crop_size} is larger than data.load_size={self.load_size}",
            )
        check(self.input_channels in (0, 1, 3, 4), "data.input_channels", "must be 0 (from the data), 1, 3 or 4")
        check(self.output_channels in (0, 1, 3, 4), "data.output_channels", "must be 0 (from the data), 1, 3 or 4")
        check(self.num_workers >= 0, "data.num_workers", "must be >= 0")
        check(self.cache_mb >= 0, "data.cache_mb", "must be >= 0")
        check(0.0 <= self.val_fraction < 1.0, "data.val_fraction", "must be in [0, 1)")
        check(8 <= self.demo_size <= 1024, "data.demo_size", "must be between 8 and 1024")


@dataclass
class ModelConfig(Section):
    """Which networks to build; every size argument of the registry's factories."""

    # A registered method (pix2pix.methods; docs/methods.md). The
    # "auto" values below are filled from the method's defaults.
    method: str = "pix2pix"
    # Which of the method's defaults fill the "auto" keys: best (the best recipe
    # measured on held-out data, benchmarks/results/recipe.md) or published (its paper's exact
    # settings; --preset paper sets this and the paper's other values). "paper" is its old name.
    recipe: Literal["best", "published"] = "best"
    # Registered generator name (auto: the method's).
    generator: str = "auto"
    # Registered discriminator: "patchgan" (n_layers_d=3 is the paper's 70x70) or "pixel".
    discriminator: str = "patchgan"
    # Filters in the first conv layer of G and D (papers: 64).
    ngf: int = 64
    ndf: int = 64
    # PatchGAN depth: 3 -> 70x70 receptive field (paper's choice).
    n_layers_d: int = 3
    # auto: the method's (batch norm for the paired method, as in its paper).
    # sync_batch: batch norm synchronised across DDP ranks (CUDA only).
    norm: Literal["auto", "batch", "instance", "none", "sync_batch"] = "auto"
    # Dropout in the generator (the paired paper's noise: 0.5). auto (or negative): the method's.
    dropout: float = -1.0
    # Weight init; the papers use normal(0, 0.02).
    init: Literal["normal", "xavier", "kaiming", "orthogonal"] = "normal"
    init_gain: float = 0.02
    # Generator x2 upsampling: the papers' transposed convolutions, or nearest
    # resize + 3x3 conv against checkerboard artifacts (Odena et al., 2016), or
    # bilinear: bilinear resize + 3x3 conv (no nearest-neighbour blocks for a grid to grow from);
    # pixel_shuffle: a sub-pixel 3x3 conv with ICNR init (Aitken et al., 2017), artifact-free at
    # the start yet with a kernel per output phase for fine detail; pixel_shuffle_outer: sub-pixel
    # in the two outermost decoder layers only (the 2 and 4 px periods), resize_conv inside.
    # auto: the method's (pix2pix's best recipe: pixel_shuffle_outer, benchmarks/results/recipe.md;
    # transposed in the papers and for CycleGAN and CUT).
    upsample: Literal["auto", "transposed", "resize_conv", "bilinear", "pixel_shuffle", "pixel_shuffle_outer"] = "auto"
    # data.task=colorization, what G predicts from the grey image (L is the input's, converted
    # back to RGB inside the model, so everything else sees RGB): bins = a distribution over
    # bins of a and of b, trained with cross-entropy (weighted by loss.lambda_l1 in place of L1)
    # and decoded with the annealed mean (Zhang et al., 2016), which commits to colours where a
    # regression's outputs are greyish compromises; ab = Lab's ab by L1 regression (the
    # research repository's choice); rgb. Measured on facades: docs/photo-tasks.md.
    colorization_output: Literal["rgb", "ab", "bins"] = "bins"
    # bins: the annealed mean's temperature (1 = the distribution's mean, -> 0 its mode; the paper's 0.38).
    color_temperature: float = 0.38
    # bins: reweighting of the cross-entropy against the training colours' frequencies, 0 = none,
    # 1 = inverse frequency (the paper's lambda = 1 - this; its choice 0.5).
    color_rebalance: float = 0.5
    # U-Net: the outermost layer draws this many feature maps, and a 3x3 conv reads them beside the
    # input at full resolution to draw the output (the U-Net's skips stop at half resolution, so
    # without it an edge of the input reaches the output only through a stride-2 layer); 0 = off.
    # auto (or negative): the method's (0 for every method today; see benchmarks/results/recipe_realism.md).
    input_skip: int = -1
    # Label maps as outputs (photo -> labels): none (G draws an image, trained with L1), or the
    # targets' class colours: a built-in palette (facades), a JSON palette file, or #rrggbb,#rrggbb,...
    # G then predicts one class per pixel (cross-entropy against each target pixel's nearest colour,
    # weighed by loss.lambda_l1) and draws that class's colour, so a boundary is never a blend of two
    # classes' colours. A run keeps the colours themselves (#rrggbb,...), so it needs no file later.
    output_palette: str = "none"
    # Discriminators at 1, 1/2, 1/4 scale (pix2pixHD); 1 = the paper's single PatchGAN.
    num_d: int = 1
    # Spectral normalisation on every D convolution (Miyato et al., 2018).
    d_spectral_norm: bool = False

    def __post_init__(self) -> None:
        check(1 <= self.ngf <= 1024, "model.ngf", "must be between 1 and 1024")
        check(1 <= self.ndf <= 1024, "model.ndf", "must be between 1 and 1024")
        check(1 <= self.n_layers_d <= 8, "model.n_layers_d", "must be between 1 and 8")
        check(1 <= self.num_d <= 3, "model.num_d", "must be 1, 2 or 3")
        check(self.input_skip <= 1024, "model.input_skip", "must be at most 1024 (0 = off, negative = auto)")
        check(self.dropout < 1.0, "model.dropout", "must be below 1 (negative = auto)")
        check(self.init_gain > 0, "model.init_gain", "must be > 0")
        check(math.isfinite(self.color_temperature) and 0.01 <= self.color_temperature <= 10,
               "model.color_temperature", "must be between 0.01 and 10")
        check(0.0 <= self.color_rebalance <= 1.0, "model.color_rebalance", "must be in [0, 1]")


@dataclass
class LossConfig(Section):
    """Loss terms and their weights."""

    # auto: the method's (least squares in our pix2pix recipe and CycleGAN, vanilla BCE in the
    # pix2pix paper and --preset paper).
    gan_mode: Literal["auto", "vanilla", "lsgan", "hinge", "wgangp"] = "auto"
    # Weight of the adversarial term (paired method). 0 = no discriminator: G learns from
    # the reconstruction terms alone, a PSNR-oriented regression that also skips D's
    # compute (the superres and denoise tasks' choice, measured: docs/photo-tasks.md).
    lambda_gan: float = 1.0
    # Weight of the reconstruction term (pix2pix paper: lambda = 100 for L1). It keeps
    # the name of the paper's term for every output kind: with model.colorization_output=bins
    # the reconstruction is the colour bins' cross-entropy, weighed by this same key.
    lambda_l1: float = 100.0
    # Gradient-penalty weight for wgangp (Gulrajani et al., 2017: 10).
    lambda_gp: float = 10.0
    # pix2pixHD's discriminator feature matching (its weight: 10); 0 = off.
    lambda_fm: float = 0.0
    # R1 penalty on real pairs, (lambda_r1 / 2) E||grad D||^2 (Mescheder et al., 2018);
    # computed every r1_every steps and scaled by it (lazy regularisation, StyleGAN2).
    lambda_r1: float = 0.0
    r1_every: int = 1
    # Perceptual loss on VGG16/19 features (pix2pixHD: 10) from a local ImageNet
    # weights file (nothing is downloaded); 0 = off.
    lambda_vgg: float = 0.0
    vgg_weights: str = ""
    # L1 between the output's and the target's Fourier amplitude spectra (Fuoli et al., 2021),
    # a sharpness term: amplitudes ignore phase, so detail need not sit exactly on the target's; 0 = off.
    lambda_fft: float = 0.0
    # L1 between the log power spectra of output and target, per frequency and 32 px tile of the
    # channel mean (after Durall et al., 2020): asks for the photos' amount of detail at every
    # frequency, the finest included, where the photo has it; 0 = off.
    lambda_spectrum: float = 0.0

    def __post_init__(self) -> None:
        check_weights(self, "loss", ("lambda_gan", "lambda_l1", "lambda_gp", "lambda_fm", "lambda_r1", "lambda_vgg",
                                     "lambda_fft", "lambda_spectrum"))
        check(self.r1_every >= 1, "loss.r1_every", "must be >= 1")
        check(self.lambda_vgg == 0 or bool(self.vgg_weights), "loss.vgg_weights",
               "loss.lambda_vgg > 0 needs a local VGG16/VGG19 weights file (loss.vgg_weights=PATH)")


@dataclass
class TrainConfig(Section):
    """Optimisation, schedule, logging and checkpointing."""

    batch_size: int = 1  # paper: 1 (with batch norm this acts as instance norm)
    lr_g: float = 2e-4  # paper: Adam, lr 2e-4, beta1 0.5
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # Paper schedule: n_epochs at constant lr, then n_epochs_decay of linear decay to 0.
    n_epochs: int = 100
    n_epochs_decay: int = 100
    lr_policy: Literal["linear", "step", "cosine", "constant"] = "linear"
    # step policy: multiply lr by 0.1 every this many epochs.
    lr_step_epochs: int = 50
    # Stop after this many optimisation steps (0 = run the full schedule).
    max_steps: int = 0
    # Stop when the training loop has run this many minutes, summed over resumes
    # (start-up excluded; 0 = no budget). The learning-rate schedule does not
    # shrink to fit: it still follows n_epochs / n_epochs_decay.
    max_minutes: float = 0.0
    seed: int = 0
    # Intervals in steps (0 disables); log_every also drives the progress bar's losses.
    log_every: int = 10
    sample_every: int = 200
    val_every: int = 200
    checkpoint_every: int = 1000
    # Also checkpoint when this many minutes passed since the last one (0 disables).
    checkpoint_minutes: float = 10.0
    # Periodic checkpoints to keep (each a full training state: weights, both
    # Adams' moments, RNG; 535 MB for the 128 px U-Net + PatchGAN). 2 = the
    # newest (latest.pt is a hard link to it) and the one before, which resume
    # falls back to if the newest is damaged.
    keep_checkpoints: int = 2
    # Validation pairs scored (and shown in sample grids: the first few).
    val_images: int = 50
    sample_images: int = 4
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Mixed precision: bf16 autocast (CPU/GPU), fp16 (CUDA, with GradScaler). auto:
    # bf16 on CPUs that compute it natively (AVX512-BF16, AMX; measured 1.6x per step
    # at batch 1 on a 2-core AMD EPYC), fp32 on others; on CUDA bf16 from batch 2
    # up and fp32 at batch 1 (launch-bound there: measured faster). See benchmarks/results/performance.md.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # NHWC memory layout. auto: on for CUDA (tensor cores), off on CPU (measured at
    # 256 px on a 2-core AMD EPYC: batch 1 slower, 277 vs 218 ms per step; batch 8
    # within noise, 1233 vs 1250-1300 ms).
    channels_last: Literal["auto", "true", "false"] = "auto"
    # torch.compile the networks (inductor). Off by default: 25-30 s to compile,
    # measured +2-7% at batch 8 and slower at batch 1 on CPU; try it on GPUs.
    compile: bool = False
    # Update each weight inside backward, as soon as its gradient is complete, and
    # free that gradient: the same Adam update bit for bit, with at most one
    # gradient alive instead of all (CPU, 256 px, batch 1: peak RSS 1493 -> 1358 MB,
    # speed unchanged). auto: on for CPU in a run that keeps freed memory (the pix2pix
    # command; train(..., keep_freed_memory=True) in Python), since otherwise each freed
    # gradient is page-faulted back: 25% slower steps; off for
    # CUDA, where one optimizer kernel launch per weight would cost a launch-bound
    # batch-1 step more than the memory is worth. Ignored under DDP and fp16.
    step_in_backward: Literal["auto", "true", "false"] = "auto"
    # What to do when a loss becomes NaN/Inf: stop (keeping the last good
    # checkpoint) or skip the step.
    on_nan: Literal["stop", "skip"] = "stop"
    tensorboard: bool = False
    # Exponential moving average of the generator's weights (and batch-norm
    # statistics) used for validation, best.pt, test, translate, export and serve;
    # 0 = off, else e.g. 0.999 (averages over ~1000 steps). auto (or negative): the
    # method's (pix2pix's best recipe: 0.999, benchmarks/results/recipe.md; 0 for the others).
    ema_decay: float = -1.0
    # Differentiable augmentation of every pair D sees (DiffAugment, Zhao et al.,
    # 2020): none, or a comma-separated list of color, translation, cutout.
    d_augment: str = "none"
    # Probability that a sample is augmented; with d_augment_adaptive it starts
    # here and follows D's overfitting signal E[sign(D(real))] towards
    # d_augment_target (ADA, Karras et al., 2020).
    d_augment_p: float = 1.0
    d_augment_adaptive: bool = False
    d_augment_target: float = 0.6
    # Clip the gradient norm of G and of D to this (0 = off). Clipping needs the
    # whole gradient before any weight moves, so it turns step_in_backward off.
    clip_grad_norm: float = 0.0
    # Learning rate for batch_size B: lr * B (linear), lr * sqrt(B) (sqrt) or lr
    # (none, the paper's rate whatever the batch).
    lr_batch_scaling: Literal["none", "sqrt", "linear"] = "none"

    def __post_init__(self) -> None:
        check(1 <= self.batch_size <= 4096, "train.batch_size", "must be between 1 and 4096")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            check(math.isfinite(value) and 0 < value < 1, f"train.{name}", "must be in (0, 1)")
        check(0 <= self.beta1 < 1, "train.beta1", "must be in [0, 1)")
        check(0 <= self.beta2 < 1, "train.beta2", "must be in [0, 1)")
        check(self.n_epochs >= 0, "train.n_epochs", "must be >= 0")
        check(self.n_epochs_decay >= 0, "train.n_epochs_decay", "must be >= 0")
        check(self.n_epochs + self.n_epochs_decay >= 1, "train.n_epochs", "n_epochs + n_epochs_decay must be >= 1")
        check(self.lr_step_epochs >= 1, "train.lr_step_epochs", "must be >= 1")
        check(self.max_steps >= 0, "train.max_steps", "must be >= 0 (0 = full schedule)")
        check(self.max_minutes >= 0, "train.max_minutes", "must be >= 0 (0 = no time budget)")
        for name in ("log_every", "sample_every", "val_every", "checkpoint_every"):
            check(getattr(self, name) >= 0, f"train.{name}", "must be >= 0 (0 disables)")
        check(self.checkpoint_minutes >= 0, "train.checkpoint_minutes", "must be >= 0 (0 disables)")
        check(self.keep_checkpoints >= 0, "train.keep_checkpoints", "must be >= 0")
        check(self.val_images >= 1, "train.val_images", "must be >= 1")
        check(self.sample_images >= 1, "train.sample_images", "must be >= 1")
        check(self.ema_decay == -1.0 or 0.0 <= self.ema_decay < 1.0, "train.ema_decay",
               "must be in [0, 1) (0 = off; e.g. 0.999), or auto for the method's default")
        policies = [p.strip() for p in self.d_augment.lower().split(",")] if self.d_augment.strip().lower() != "none" else []
        for policy in policies:
            check(policy in D_AUGMENT_POLICIES, "train.d_augment",
                   f"unknown policy '{policy}' (valid: none, or a comma-separated list of {', '.join(D_AUGMENT_POLICIES)})")
        check(0.0 <= self.d_augment_p <= 1.0, "train.d_augment_p", "must be in [0, 1]")
        check(-1.0 < self.d_augment_target < 1.0, "train.d_augment_target", "must be in (-1, 1)")
        check(self.clip_grad_norm >= 0 and math.isfinite(self.clip_grad_norm), "train.clip_grad_norm", "must be >= 0 (0 = off)")


@dataclass
class InferenceConfig(Section):
    """How a trained generator is run by test, translate, validation and serve."""

    # per_image: batch statistics and dropout on, as during training and in the
    # paper's test script (each image normalised by its own statistics, dropout
    # masks seeded; called "paper" before 0.2). eval: running statistics, no dropout.
    # See docs/deployment.md for the numbers behind the default.
    norm: Literal["per_image", "eval"] = "per_image"
    # Seed of the dropout masks in per_image mode (same seed -> same output).
    seed: int = 0
    # train: resize inputs to the scale the model was trained at and the output
    # back to the input's size. native: run at the input's own resolution.
    scale: Literal["train", "native"] = "train"
    # Largest side, in pixels, translated in one piece; larger images go through
    # overlapping tiles (0 = never tile).
    tile_size: int = 1024
    # auto: bf16 where the hardware computes it natively (CPUs with AVX512-BF16 or
    # AMX, CUDA GPUs with bf16), else fp32. Outputs stay within noise of fp32
    # (benchmarks/results/performance.md, "Inference speed"). Validation during training always runs fp32.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # torch.compile the generator. auto: when the images that follow repay the
    # compile (translate/test know their count; a Translator compiles a shape once
    # the eager time spent on it equals the compile cost); serve compiles at start.
    compile: Literal["auto", "true", "false"] = "auto"

    def __post_init__(self) -> None:
        check(self.tile_size == 0 or self.tile_size >= 16, "inference.tile_size", "must be 0 or >= 16")


# The keys the chosen method fills when they are auto ("auto", or negative for numbers): every method's
# defaults and paper_defaults name them all (checked when it registers).
METHOD_AUTO_KEYS = frozenset({"model.generator", "model.norm", "model.upsample", "model.dropout", "model.input_skip",
                              "loss.gan_mode", "train.ema_decay"})
SECTIONS = ("data", "model", "loss", "train", "inference")  # the sections every run has; a method adds its own


@dataclass
class Config:
    """A whole run: saved as config.toml in the run directory and in every checkpoint.

    Besides the shared sections, the chosen method has a section of its own, named after it
    (``[cyclegan]``, ``[cut]``, ...; declared in its file under ``methods/``). Until the config is
    resolved (``pix2pix.methods.resolve``) that section is the table as written (``method_tables``,
    by name); resolving checks it and builds ``options``, the method's dataclass.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    method_tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: Any = None

    @property
    def resolved(self) -> bool:
        return self.options is not None

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "options", None) is not None and name in (*SECTIONS, "method_tables", "options"):
            raise AttributeError(f"cannot set {name}: {READ_ONLY}")
        super().__setattr__(name, value)

    def copy(self) -> "Config":
        """An unresolved copy that may be changed (of a resolved config too: its values stay as resolved)."""
        return Config.from_dict(self.to_dict())

    def fill_auto(self, defaults: dict[str, Any]) -> None:
        """Replace ``auto`` values (negative numbers where a key says so) by ``defaults``
        ({"section.key": value}: a method's defaults, see ``pix2pix.methods.registry``)."""
        for dotted, value in defaults.items():
            section, key = dotted.split(".")
            holder = getattr(self, section)
            current = getattr(holder, key)
            numeric = isinstance(current, (int, float)) and not isinstance(current, bool)
            if current == "auto" or (numeric and current < 0):
                setattr(holder, key, value)

    def with_options(self, options: Any) -> "Config":
        """The resolved config: this one (already filled) with the method's section built, read-only from now on."""
        for name in SECTIONS:
            getattr(self, name)._freeze()
        options._freeze()
        object.__setattr__(self, "method_tables", {})
        object.__setattr__(self, "options", options)
        return self

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}
        if self.options is not None:
            out[self.model.method] = dataclasses.asdict(self.options)
        else:
            out.update({name: dict(table) for name, table in self.method_tables.items()})
        return out

    @classmethod
    def from_saved(cls, raw: dict[str, Any]) -> "Config":
        """A run's saved config: a key the run predates gets the value that reproduces what the run
        computed (``KEYS_ADDED``), not today's ``auto``, so that an older run loads and resumes as it was;
        old names are read without a notice (the run folder is not the user's to edit)."""
        if isinstance(raw, dict):
            raw = {section: dict(values) if isinstance(values, dict) else values for section, values in raw.items()}
            for dotted, value in KEYS_ADDED.items():
                section, key = dotted.split(".")
                if isinstance(raw.get(section), dict):
                    raw[section].setdefault(key, value)
        return cls.from_dict(raw, quiet=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], quiet: bool = False) -> "Config":
        """Build from nested dicts (TOML), checking every shared section, key and type; a table that is
        not a shared section is kept for the method to check when the config is resolved."""
        sections = _section_types()
        if not isinstance(raw, dict):
            raise ConfigError("config must be a table of sections")
        raw = _renamed_keys(raw, quiet)
        built = {}
        for name, section_cls in sections.items():
            values = raw.get(name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"config section '{name}' must be a table")
            built[name] = build_section(name, section_cls, values)
        tables = {}
        for name, values in raw.items():
            if name in sections:
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"config section '{name}' must be a table")
            tables[name] = dict(values)
        return cls(**built, method_tables=tables)


# Old names, still read (a config file, --set, a saved run) with a one-line notice: one spelling per word,
# and a method's own keys in its own section.
RENAMED_KEYS: dict[str, str] = {
    "model.colour_temperature": "model.color_temperature", "model.colour_rebalance": "model.color_rebalance",
    "train.pool_size": "cyclegan.pool_size", "loss.lambda_a": "cyclegan.lambda_a", "loss.lambda_b": "cyclegan.lambda_b",
    "loss.lambda_identity": "cyclegan.lambda_identity", "loss.lambda_nce": "cut.lambda_nce",
    "loss.lambda_nce_idt": "cut.lambda_nce_idt", "loss.nce_layers": "cut.nce_layers", "loss.nce_patches": "cut.nce_patches",
    "loss.nce_tau": "cut.nce_tau", "loss.lambda_l1_final": "pix2pix.lambda_l1_final",
    "loss.lambda_l1_decay_steps": "pix2pix.lambda_l1_decay_steps",
}
RENAMED_PRESETS: dict[str, str] = {"colour_classes": "color_classes"}
# Old values, by key: "paper" now means only --preset paper.
RENAMED_VALUES: dict[str, dict[str, str]] = {"model.recipe": {"paper": "published"}, "inference.norm": {"paper": "per_image"}}


def renamed_value(key: str, value: Any, quiet: bool = False) -> Any:
    """Today's name of ``value`` for ``key`` (itself when it was never renamed), saying so when it was."""
    new = RENAMED_VALUES.get(key, {}).get(value) if isinstance(value, str) else None
    if new is None:
        return value
    if not quiet:
        _renamed_notice(f"{key}={value}", f"{key}={new}")
    return new


def renamed(old: str, table: dict[str, str], quiet: bool = False) -> str:
    """Today's name for ``old`` (itself when it was never renamed), saying so when it was."""
    new = table.get(old)
    if new is None:
        return old
    if not quiet:
        _renamed_notice(old, new)
    return new


def _renamed_notice(old: str, new: str) -> None:
    print(f"note: {old} is now called {new} (the old name still works)", file=sys.stderr)


def _renamed_keys(raw: dict[str, Any], quiet: bool = False) -> dict[str, Any]:
    """``raw`` with every renamed key under its new name. A key that moved into another method's section
    than the chosen one is dropped: older configs listed every method's keys, and only the chosen one's count."""
    out = {section: dict(values) if isinstance(values, dict) else values for section, values in raw.items()}
    model = raw.get("model")
    method = model.get("method", ModelConfig.method) if isinstance(model, dict) else ModelConfig.method
    for section, values in raw.items():
        if not isinstance(values, dict):
            continue
        for key in values:
            new = renamed(f"{section}.{key}", RENAMED_KEYS, quiet)
            if new == f"{section}.{key}":
                out[section][key] = renamed_value(new, values[key], quiet)
                continue
            new_section, new_key = new.split(".")
            value = out[section].pop(key)
            if new_section not in SECTIONS and new_section != method:
                if not quiet:
                    print(f"note: {new} ignored (model.method is {method})", file=sys.stderr)
                continue
            out[new_section] = dict(out.get(new_section, {}))
            out[new_section].setdefault(new_key, value)
    return out


# Keys added with an ``auto`` default, and the value a run saved before them computed with.
KEYS_ADDED: dict[str, Any] = {"model.input_skip": 0}

# Keys that --resume may change: they move the stopping point or how often the
# run reports, never what it computes.
RESUMABLE_KEYS = frozenset(
    {
        "train.max_steps",
        "train.max_minutes",
        "train.log_every",
        "train.sample_every",
        "train.val_every",
        "train.checkpoint_every",
        "train.checkpoint_minutes",
        "train.keep_checkpoints",
        "train.val_images",
        "train.sample_images",
        "train.tensorboard",
        "train.device",
        "train.on_nan",
        "train.step_in_backward",
        "data.num_workers",
        "data.cache_mb",
        "inference.precision",  # how test/translate run the generator, not what training computes
        "inference.compile",
    }
)

# Presets, applied after --config and before --set, in the order given (so they
# combine: --preset paper --preset colorization). "paper" is the pix2pix paper's
# exact recipe (Isola et al., 2017), for results comparable with published ones:
# every setting it fixes, and the method's paper defaults for the "auto" keys.
# A method's own section ([cyclegan], ...) defaults to its paper's values, so "paper" also drops the
# method section written before it (in a file): see PRESETS_OF_METHOD_DEFAULTS.
# The task presets set lambda_l1 from the usual advice for each kind of task
# (the range it comes from in the comment).
PRESETS: dict[str, dict[str, str]] = {
    "paper": {
        "model.recipe": "published", "model.generator": "auto", "model.norm": "auto", "model.dropout": "-1",
        "model.upsample": "auto", "loss.gan_mode": "auto", "model.discriminator": "patchgan", "model.n_layers_d": "3",
        "model.num_d": "1", "model.input_skip": "-1", "model.d_spectral_norm": "false", "model.ngf": "64", "model.ndf": "64",
        "model.init": "normal", "model.init_gain": "0.02", "loss.lambda_gan": "1", "loss.lambda_l1": "100", "loss.lambda_fm": "0",
        "loss.lambda_r1": "0", "loss.lambda_vgg": "0", "loss.lambda_fft": "0", "loss.lambda_spectrum": "0",
        "train.lr_g": "0.0002", "train.lr_d": "0.0002", "train.beta1": "0.5", "train.beta2": "0.999", "train.batch_size": "1",
        "train.lr_policy": "linear",
        "train.n_epochs": "100", "train.n_epochs_decay": "100", "train.ema_decay": "-1", "train.d_augment": "none",
        "train.clip_grad_norm": "0", "train.lr_batch_scaling": "none", "data.preprocess": "resize_and_crop",
        "data.load_size": "286", "data.crop_size": "256", "data.flip": "true", "inference.norm": "per_image",
    },
    "seg2photo": {"loss.lambda_l1": "125"},  # label map -> photo: 100-150
    "edges2photo": {"loss.lambda_l1": "75"},  # edges/sketch -> photo: 50-100
    "colorization": {"loss.lambda_l1": "30"},  # grey -> colour: 10-50 (paired grey/colour data)
    # data.task=colorization: colour classes trained by cross-entropy alone; measured more faithful
    # (ab L1) and more colourful than regression + GAN at lambda 30 (docs/photo-tasks.md).
    "color_classes": {"model.colorization_output": "bins", "loss.lambda_gan": "0"},
    "inpainting": {"loss.lambda_l1": "150"},  # fill holes: 100-200
    # superres and denoise: scored by PSNR, which an adversarial term and dropout only cost;
    # L1 alone on a 4x smaller U-Net at a 5x learning rate measured best (docs/photo-tasks.md).
    "restoration": {"loss.lambda_gan": "0", "model.dropout": "0", "model.ngf": "32", "train.lr_g": "0.001"},
}

# Presets that put the method's own section back to its defaults (its paper's values).
PRESETS_OF_METHOD_DEFAULTS = frozenset({"paper"})

# Presets that only make sense for one task: elsewhere their settings would silently mean
# something else (color_classes on paired data would be L1-only training, no color classes).
PRESET_TASKS: dict[str, str] = {"color_classes": "colorization"}
# The preset each photo task trains with unless an explicit --set says otherwise: load_config applies
# it, so the CLI's --task, --set data.task=... and the Python API get the same recipe.
TASK_PRESETS: dict[str, str] = {"colorization": "color_classes", "inpainting": "inpainting", "edges": "edges2photo",
                                "superres": "restoration", "denoise": "restoration"}


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {name: hints[name] for name in SECTIONS}


def _field_types(section_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(section_cls)}


def build_section(name: str, section_cls: type, values: dict[str, Any]) -> Any:
    """A section (the shared ones, or a method's own) from its table, each value checked and converted."""
    types = _field_types(section_cls)
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ConfigError(f"unknown key '{name}.{unknown[0]}' (valid: {', '.join(types)})")
    coerced = {key: _coerce(f"{name}.{key}", types[key], value) for key, value in values.items()}
    return section_cls(**coerced)


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """Convert a TOML or command-line value to the field's type, or raise a ConfigError."""
    if key in METHOD_AUTO_KEYS and tp in (int, float) and isinstance(value, str) and value.strip().lower() == "auto":
        return tp(-1)  # the numeric auto keys take "auto" like the others (stored as -1)
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if isinstance(value, bool) and "true" in choices:  # TOML booleans for auto/true/false keys
            value = "true" if value else "false"
        if isinstance(value, str) and value.lower() in ("true", "false") and value.lower() in choices:
            value = value.lower()
        if value not in choices:
            raise ConfigError(f"{key}: '{value}' is not one of {', '.join(map(str, choices))}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{key}: '{value}' is not a boolean (true/false)")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            return int(str(value), 10)
        except ValueError:
            raise ConfigError(f"{key}: '{value}' is not an integer") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: '{value}' is not a number") from None
        if not math.isfinite(result):
            raise ConfigError(f"{key}: '{value}' is not a finite number")
        return result
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config field type for {key}: {tp}")  # a bug, not user input


def parse_override(text: str) -> tuple[str, str, str]:
    """Split 'section.key=value' into its parts, with a usable error otherwise."""
    if "=" not in text:
        raise ConfigError(f"--set '{text}': expected section.key=value")
    path, value = text.split("=", 1)
    path = path.strip()
    if path.count(".") != 1:
        raise ConfigError(f"--set '{text}': expected section.key=value (e.g. train.max_steps=100)")
    section, key = path.split(".")
    return section, key, value.strip()


def apply_overrides(raw: dict[str, dict[str, Any]], overrides: list[str]) -> dict[str, dict[str, Any]]:
    """Return a copy of ``raw`` with --set overrides applied (validated later by from_dict; a key of a
    method's own section when the config is resolved)."""
    merged = {name: dict(values) for name, values in raw.items()}
    sections = _section_types()
    for text in overrides:
        section, key, value = parse_override(text)
        section, key = renamed(f"{section}.{key}", RENAMED_KEYS).split(".")
        if section not in sections:
            merged.setdefault(section, {})[key] = value
            continue
        types = _field_types(sections[section])
        if key not in types:
            raise ConfigError(f"--set {section}.{key}: unknown key (valid in {section}: {', '.join(types)})")
        value = renamed_value(f"{section}.{key}", value)
        merged.setdefault(section, {})[key] = _coerce(f"{section}.{key}", types[key], value)
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file is a directory: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    preset: str | list[str] | None = None,
) -> Config:
    """Defaults <- the photo task's preset <- TOML file <- presets (in the order given) <- --set overrides,
    validated. The task's preset applies however ``data.task`` is set (a file, --set, the CLI's --task),
    below everything written explicitly, so a saved config.toml loads as it was saved."""
    file_raw: dict[str, Any] = read_toml(Path(path)) if path else {}
    names = [renamed(name, RENAMED_PRESETS) for name in ([preset] if isinstance(preset, str) else list(preset or []))]
    task = next((value for section, key, value in map(parse_override, reversed(list(overrides or [])))
                 if (section, key) == ("data", "task")), file_raw.get("data", {}).get("task"))
    task_preset = TASK_PRESETS.get(task) if task not in (None, "paired") else None
    raw = apply_overrides({}, [f"{k}={v}" for k, v in PRESETS[task_preset].items()]) if task_preset else {}
    for section, values in file_raw.items():
        if isinstance(values, dict):
            raw.setdefault(section, {}).update(values)
        else:
            raw[section] = values  # not a [section] table: from_dict says so
    if PRESETS_OF_METHOD_DEFAULTS & set(names):
        raw = {section: values for section, values in raw.items() if section in SECTIONS}
    preset_overrides: list[str] = []
    for name in names:
        if name not in PRESETS:
            raise ConfigError(f"--preset: unknown preset '{name}' (valid: {', '.join(PRESETS)})")
        preset_overrides += [f"{k}={v}" for k, v in PRESETS[name].items()]
    raw = apply_overrides(raw, preset_overrides + list(overrides or []))
    cfg = Config.from_dict(raw)
    for name in names:
        task = PRESET_TASKS.get(name)
        if task is not None and cfg.data.task != task:
            raise ConfigError(f"--preset {name} is for data.task={task} (train with --task {task}), "
                              f"not data.task={cfg.data.task}")
    return cfg


def changed_keys(old: Config, new: Config) -> list[str]:
    """Dotted keys whose values differ between two configs."""
    a, b = old.to_dict(), new.to_dict()
    return [f"{s}.{k}" for s in a for k in a[s] if a[s][k] != b[s][k]]


def to_toml(cfg: Config) -> str:
    """Serialise a config (flat sections of scalars) as TOML text."""
    lines = ["# pix2pix run configuration (fully resolved)"]
    for section, values in cfg.to_dict().items():
        lines.append("")
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    raise TypeError(f"cannot write {value!r} to TOML")
