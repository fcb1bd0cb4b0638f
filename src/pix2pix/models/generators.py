"""Generators: the pix2pix U-Net and the CycleGAN ResNet (Johnson et al.).

Layer for layer the same networks as the papers' code (a test pins the
parameter counts), written as flat encoder/decoder lists instead of nested
blocks. Each network has ``size_multiple``: inputs are padded to it.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .layers import Dropout, conv_bias, norm_layer
from .padding import size_multiple
from .registry import register_generator


UPSAMPLE_KINDS = ("transposed", "resize_conv", "bilinear", "pixel_shuffle", "pixel_shuffle_outer")
OUTER_SHUFFLE_LAYERS = 2  # pixel_shuffle_outer: the layers that draw the 2 and 4 px periods


def layer_upsample(kind: str, level: int) -> str:
    """The kind for the decoder layer ``level`` steps in from the output (0 = outermost).

    ``pixel_shuffle_outer`` puts sub-pixel layers where the finest periods are drawn and
    resize_conv inside, where at batch 1 a layer costs what its weights cost and a
    sub-pixel layer holds four times resize_conv's.
    """
    if kind == "pixel_shuffle_outer":
        return "pixel_shuffle" if level < OUTER_SHUFFLE_LAYERS else "resize_conv"
    return kind


class SubPixelUpsample(nn.Module):
    """x2 upsampling by a 3x3 convolution to four times the channels and a pixel shuffle (Shi et al., 2016).

    Each of the four output phases has its own kernel, so unlike nearest resize + conv it can
    draw detail at the finest period; ICNR initialisation (Aitken et al., 2017, "Checkerboard
    artifact free sub-pixel convolution") gives the phases one kernel, so it starts as
    conv + nearest upsampling, with no checkerboard to unlearn.
    """

    def __init__(self, cin: int, cout: int, bias: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, kernel_size=3, padding=1, bias=bias)
        self.shuffle = nn.PixelShuffle(2)
        self.icnr_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))

    @torch.no_grad()
    def icnr_(self) -> None:
        """Copy phase 0's kernel to the other three (PixelShuffle reads channel c * 4 + phase)."""
        for param in (self.conv.weight, self.conv.bias):
            if param is not None:
                grouped = param.view(param.shape[0] // 4, 4, *param.shape[1:])
                grouped.copy_(grouped[:, :1].expand_as(grouped))


def upsampling(cin: int, cout: int, kind: str, bias: bool, transposed_kernel: int = 4) -> nn.Module:
    """x2 upsampling layer: the paper's transposed convolution, nearest-neighbour resize + 3x3 conv,
    or a sub-pixel convolution (``SubPixelUpsample``).

    A stride-2 transposed convolution covers output pixels unevenly (kernel 4 or 3
    over stride 2), which prints a period-2 checkerboard that the network must learn
    to cancel; resize-convolution spreads every input pixel evenly (Odena et al.,
    2016, "Deconvolution and Checkerboard Artifacts"). Nearest rather than bilinear:
    the paper found it the more artifact-free of the two, and it keeps edges sharp
    where bilinear blurs before the convolution sees them.
    """
    if kind == "transposed":
        if transposed_kernel == 4:
            return nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1, bias=bias)
        return nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias)
    if kind == "resize_conv":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=bias))
    if kind == "bilinear":  # interpolates between pixels: no 2x2 blocks for the conv to turn into a period-2 grid
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                             nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=bias))
    if kind == "pixel_shuffle":
        return SubPixelUpsample(cin, cout, bias)
    raise ConfigError(f"model.upsample: unknown kind '{kind}' (valid: {', '.join(UPSAMPLE_KINDS)})")


class UNet(nn.Module):
    """U-Net with skip connections between mirrored layers (pix2pix paper, sec. 3.2.1).

    Encoder: conv4x4/2 (LeakyReLU 0.2, norm) ``depth`` times, channels ngf * (1, 2,
    4, 8, 8, ...); decoder: transposed conv4x4/2 (ReLU, norm), each fed with the
    previous decoder output concatenated with the mirrored encoder output.
    Dropout acts as the paper's noise in the decoder blocks just outside the
    innermost one (3 of them at depth 8, as in the paper's code).
    ``upsample="resize_conv"`` replaces the transposed convolutions (see ``upsampling``).
    ``out_activation="none"`` leaves the last layer linear: per-pixel class logits for a segmenter.
    ``latent`` > 0 takes a code z of that many numbers, tiled over the image and concatenated with the
    input (``latent_layers="input"``) or with the input of every encoder layer (``"all"``, BicycleGAN's
    add-to-all); without a z the code is 0, the prior's mean.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        depth: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
        upsample: str = "transposed",
        out_activation: str = "tanh",
        input_skip: int = 0,
        latent: int = 0,
        latent_layers: str = "input",
    ) -> None:
        super().__init__()
        self.latent = latent
        if latent_layers not in ("input", "all"):
            raise ValueError(f"UNet latent_layers must be 'input' or 'all', not {latent_layers!r}")
        self.latent_everywhere = latent_layers == "all"
        if depth < 2:
            raise ValueError("UNet depth must be >= 2")
        if out_activation not in ("tanh", "none"):
            raise ValueError(f"UNet out_activation must be 'tanh' or 'none', not {out_activation!r}")
        self.size_multiple = 2**depth
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        widths = [ngf * min(2**i, 8) for i in range(depth)]  # channels after encoder layer i

        def down(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, kernel_size=4, stride=2, padding=1, bias=bias)

        def up(cin: int, cout: int, level: int, use_bias: bool = bias) -> nn.Module:
            return upsampling(cin, cout, layer_upsample(upsample, level), use_bias)

        inner_z = latent if self.latent_everywhere else 0  # z's channels beside each inner layer's input
        encoder: list[nn.Module] = [down(in_channels + latent, widths[0])]
        for i in range(1, depth - 1):
            encoder.append(nn.Sequential(nn.LeakyReLU(0.2), down(widths[i - 1] + inner_z, widths[i]), make_norm(widths[i])))
        encoder.append(nn.Sequential(nn.LeakyReLU(0.2), down(widths[-2] + inner_z, widths[-1])))  # innermost: no norm
        self.encoder = nn.ModuleList(encoder)

        # decoder[i] undoes encoder[i] (maps widths[i] back to widths[i - 1]).
        decoder: dict[int, nn.Module] = {}
        decoder[depth - 1] = nn.Sequential(nn.ReLU(), up(widths[-1], widths[-2], depth - 1), make_norm(widths[-2]))
        dropout_blocks = set(range(4, depth - 1))
        for i in range(depth - 2, 0, -1):
            layers = [nn.ReLU(), up(widths[i] * 2, widths[i - 1], i), make_norm(widths[i - 1])]
            if dropout > 0 and i in dropout_blocks:
                layers.append(Dropout(dropout))
            decoder[i] = nn.Sequential(*layers)
        last = nn.Tanh() if out_activation == "tanh" else nn.Identity()
        if input_skip:  # the outermost layer draws features; a conv reads them beside the input, at full resolution
            decoder[0] = nn.Sequential(nn.ReLU(), up(widths[0] * 2, input_skip, 0), make_norm(input_skip), nn.ReLU())
            self.input_head: nn.Module | None = nn.Sequential(
                nn.Conv2d(input_skip + in_channels, out_channels, kernel_size=3, padding=1, padding_mode="replicate"), last)
        else:
            decoder[0] = nn.Sequential(nn.ReLU(), up(widths[0] * 2, out_channels, 0, use_bias=True), last)
            self.input_head = None
        self.decoder = nn.ModuleList(decoder[i] for i in range(depth))

    def encode(self, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
        """Outputs of the encoder layers numbered ``layers`` (0 = the outermost), e.g. for PatchNCE."""
        if layers and max(layers) >= len(self.encoder):
            raise ConfigError(f"a U-Net of depth {len(self.encoder)} has encoder layers 0-{len(self.encoder) - 1}")
        return outputs_of(self.encoder, x, layers)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        source, skips = x, []
        if self.latent and z is None:
            z = x.new_zeros(x.shape[0], self.latent)
        elif not self.latent and z is not None:
            raise ValueError("this U-Net takes no latent code (latent=0)")
        for i, layer in enumerate(self.encoder):
            if z is not None and (i == 0 or self.latent_everywhere):
                x = torch.cat([x, z.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)  # (B, C + nz, H, W)
            x = layer(x)
            skips.append(x)
        x = self.decoder[-1](skips[-1])
        for i in range(len(self.decoder) - 2, -1, -1):
            x = self.decoder[i](torch.cat([skips[i], x], dim=1))
        return x if self.input_head is None else self.input_head(torch.cat([x, source], dim=1))


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, *, norm: str, dropout: float) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            make_norm(channels),
            nn.ReLU(),
        ]
        if dropout > 0:
            layers.append(Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), make_norm(channels)]
        self.conv_block = nn.Sequential(*layers)  # the research code's name: its checkpoints load as they are

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Two stride-2 downsamplings, ``n_blocks`` residual blocks, two upsamplings (CycleGAN)."""

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        n_blocks: int = 9,
        ngf: int = 64,
        norm: str = "instance",
        dropout: float = 0.0,
        upsample: str = "transposed",
    ) -> None:
        super().__init__()
        self.size_multiple = 4
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            make_norm(ngf),
            nn.ReLU(),
        ]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias), make_norm(ngf * mult * 2), nn.ReLU()]
        layers += [ResnetBlock(ngf * 4, norm=norm, dropout=dropout) for _ in range(n_blocks)]
        for level, mult in ((1, 4), (0, 2)):
            layers += [upsampling(ngf * mult, ngf * mult // 2, layer_upsample(upsample, level), bias, transposed_kernel=3),
                       make_norm(ngf * mult // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
        """Outputs of ``model``'s layers numbered ``layers`` (the CUT paper's 0, 4, 8, 12, 16: the padded
        input, both downsamplings, and two residual blocks), e.g. for PatchNCE."""
        if layers and max(layers) >= len(self.model):
            raise ConfigError(f"this ResNet generator has layers 0-{len(self.model) - 1}")
        return outputs_of(self.model, x, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class TaskComposite(nn.Module):
    """A generator wrapped with a photo task's fixed input/output arithmetic; pads as its net does.

    ``scores_itself``: forward(x, target) returns (output, reconstruction loss), for outputs whose
    loss is not an L1 on the image (colour classes); the paired step then uses that loss in L1's place.
    """

    scores_itself = False

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.size_multiple = size_multiple(net)


class InpaintingComposite(TaskComposite):
    """Inpainting: the known pixels pass through and the generator paints only the holes, so the
    L1 loss, D and the scores all look where the hole is. The input is the holed RGB image with
    the mask (1 in the holes, -1 elsewhere, in the model's [-1, 1] range) as its last channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hole = (x[:, -1:] + 1) / 2  # (B, 1, H, W) in [0, 1]
        return x[:, :3] * (1 - hole) + self.net(x) * hole


class ResidualComposite(TaskComposite):
    """Restoration (superres, denoise): the generator predicts the correction to its input, which
    already holds the photo's low frequencies (global residual learning, as VDSR, Kim et al., 2016):
    training starts from the bicubic / noisy input instead of from nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :3] + self.net(x)).clamp(-1, 1)


def outputs_of(layers: Sequence[nn.Module], x: torch.Tensor, wanted: list[int]) -> list[torch.Tensor]:
    """Run ``x`` through ``layers`` up to the last index in ``wanted``; the outputs of those layers."""
    features = []
    for index, layer in enumerate(layers[: max(wanted) + 1]):
        x = layer(x)
        if index in wanted:
            features.append(x)
    return features


def unet_depth(image_size: int) -> int:
    """Depth that brings ``image_size`` down to a 1x1 bottleneck (the paper's 256 -> 8), at most 8."""
    return max(2, min(8, int(math.floor(math.log2(max(image_size, 4))))))


def unet_of_depth(depth: int | None) -> Callable[..., nn.Module]:
    """The factory of a U-Net of ``depth`` layers (None: the depth that fits the training crop size)."""

    def build(*, in_channels: int, out_channels: int, ngf: int, norm: str, dropout: float, image_size: int,
              upsample: str = "transposed", input_skip: int = 0, latent: int = 0, latent_layers: str = "input") -> nn.Module:
        return UNet(in_channels=in_channels, out_channels=out_channels, depth=depth or unet_depth(image_size), ngf=ngf,
                    norm=norm, dropout=dropout, upsample=upsample, input_skip=input_skip, latent=latent,
                    latent_layers=latent_layers)

    return build


unet = register_generator("unet")(unet_of_depth(None))  # 64 px -> depth 6, 256 px -> 8
unet_128 = register_generator("unet_128")(unet_of_depth(7))  # the paper's names, fixed depths
unet_256 = register_generator("unet_256")(unet_of_depth(8))


@register_generator("resnet_6blocks")
def resnet_6blocks(*, in_channels: int, out_channels: int, ngf: int, norm: str, dropout: float, image_size: int,
                   upsample: str = "transposed") -> nn.Module:
    return ResnetGenerator(in_channels=in_channels, out_channels=out_channels, n_blocks=6, ngf=ngf, norm=norm,
                           dropout=dropout, upsample=upsample)


@register_generator("resnet_9blocks")
def resnet_9blocks(*, in_channels: int, out_channels: int, ngf: int, norm: str, dropout: float, image_size: int,
                   upsample: str = "transposed") -> nn.Module:
    return ResnetGenerator(in_channels=in_channels, out_channels=out_channels, n_blocks=9, ngf=ngf, norm=norm,
                           dropout=dropout, upsample=upsample)
