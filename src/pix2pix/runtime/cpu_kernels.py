"""A CPU kernel choice applied by the runtime: weight-bound convolutions as one matrix product.

The U-Net's inner layers hold most of its weights (8.4M in each 1024->512
transposed conv) but see only 1x1 to 8x8 pixels. There oneDNN's convolution
spends its time re-laying out the weights, not computing: at batch 1, bf16,
forward+backward of the 2x2->4x4 transposed layer took 13.3 ms, the same maths
as im2col/col2im around a single matmul 5.1 ms; the nine layers that take this
path at 256 px went from 96 to 53 ms (2 cores, AMD Zen 5;
benchmarks/small_convs.py times every U-Net layer both ways). So they run as

    conv:            y = W (Cout, Cin*k*k) @ unfold(x)
    transposed conv: y = fold(x^T @ W (Cin, Cout*k*k))

when few output rows share each weight, on the CPU, in eager mode. Elsewhere
they are the plain PyTorch layers, with identical parameters and state dicts:
on CUDA, on large feature maps, when traced or exported (a graph must not bake
in one input size's shapes), and under torch.compile (inductor lowers
fold/unfold poorly: compiled inference fell from 49 to 30 img/s with them).

Networks are built from torch's own layers; ``use_matmul_convolutions(net)``
(called by the trainer and by inference on the CPU, for generators) turns their
convolutions into these subclasses in place: same parameters, buffers and state
dict, so optimizers, checkpoints and exports do not notice. The row limits are
arguments with measured defaults (Zen 5, bf16); on a 2-core Zen 2 in fp32 the
same limits gave a 128 px training step of 633 ms against 686 without them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Matmul rows (batch x positions) up to which the matrix product wins, measured per layer type at
# batch 1 and 8 (benchmarks/small_convs.py, 2-core AMD Zen 5, bf16): beyond them oneDNN's direct
# convolution is faster. Defaults of use_matmul_convolutions; each layer keeps its own.
CONV_MAX_ROWS = 128  # output positions
TRANSPOSED_MAX_ROWS = 512  # input positions


def _eager_cpu(x: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and not torch.jit.is_tracing()
        and not torch.jit.is_scripting()
        and not torch.compiler.is_compiling()
    )


class MatmulConv2d(nn.Conv2d):
    """nn.Conv2d whose weight-bound calls run as one matmul (see module docstring)."""

    max_rows = CONV_MAX_ROWS
    per_sample = False  # decide by one sample's rows: the same kernel whatever the batch (inference)

    def _out_size(self, x: torch.Tensor) -> tuple[int, int]:
        h, w = (
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip(x.shape[2:], self.padding, self.dilation, self.kernel_size, self.stride)
        )
        return h, w

    def _matmul_ok(self, x: torch.Tensor) -> bool:
        if self.groups != 1 or self.padding_mode != "zeros" or isinstance(self.padding, str) or x.dim() != 4:
            return False
        if not _eager_cpu(x):
            return False
        out_h, out_w = self._out_size(x)
        return (1 if self.per_sample else x.shape[0]) * out_h * out_w <= self.max_rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._matmul_ok(x):
            return super().forward(x)
        batch = x.shape[0]
        out_h, out_w = self._out_size(x)
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        y = self.weight.reshape(self.out_channels, -1) @ cols  # (B, Cout, L)
        y = y.reshape(batch, self.out_channels, out_h, out_w)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1).to(y.dtype)
        return y


class MatmulConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d whose weight-bound calls run as one matmul + col2im (see module docstring)."""

    max_rows = TRANSPOSED_MAX_ROWS
    per_sample = False

    def _matmul_ok(self, x: torch.Tensor) -> bool:
        if self.groups != 1 or self.padding_mode != "zeros" or x.dim() != 4:
            return False
        return _eager_cpu(x) and (1 if self.per_sample else x.shape[0]) * x.shape[2] * x.shape[3] <= self.max_rows

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None or not self._matmul_ok(x):
            return super().forward(x, output_size)
        batch, cin, height, width = x.shape
        out_hw = tuple(
            (size - 1) * s - 2 * p + d * (k - 1) + op + 1
            for size, s, p, d, k, op in zip(
                (height, width), self.stride, self.padding, self.dilation, self.kernel_size, self.output_padding
            )
        )
        rows = x.flatten(2).transpose(1, 2)  # (B, H*W, Cin)
        cols = rows @ self.weight.reshape(cin, -1)  # (B, H*W, Cout*k*k)
        y = F.fold(cols.transpose(1, 2), out_hw, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1).to(y.dtype)
        return y


def use_matmul_convolutions(net: nn.Module, conv_max_rows: int = CONV_MAX_ROWS,
                            transposed_max_rows: int = TRANSPOSED_MAX_ROWS, per_sample: bool = False) -> nn.Module:
    """Let ``net``'s torch convolutions take the matmul form where it wins (in place; returns ``net``).

    Each ``nn.Conv2d`` / ``nn.ConvTranspose2d`` becomes the subclass above: the same object, with the
    same parameters (optimizers keep them), buffers and state dict, and its row limit. Training counts
    the batch's rows (the measured limits); inference passes ``per_sample=True``, so that an image's
    output never depends on the batch it is translated in (the kernels' roundings differ in the last bit)."""
    for module in net.modules():
        if type(module) in (nn.Conv2d, MatmulConv2d):
            module.__class__ = MatmulConv2d
            module.max_rows, module.per_sample = conv_max_rows, per_sample
        elif type(module) in (nn.ConvTranspose2d, MatmulConvTranspose2d):
            module.__class__ = MatmulConvTranspose2d
            module.max_rows, module.per_sample = transposed_max_rows, per_sample
    return net
