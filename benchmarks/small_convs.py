"""Per-layer timing of the U-Net's convolutions: torch.nn's layer against the matmul form.

Where pix2pix.runtime.cpu_kernels's row limits come from. For every encoder and
decoder layer of a 256 px unet at the given batch sizes: forward + backward
under bf16 autocast (the training step's setting), median of several runs, in ms.

    python benchmarks/small_convs.py [--batches 1,8] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch import nn

from pix2pix.allocator import keep_freed_memory
from pix2pix.runtime import cpu_kernels as matmul_conv

# (transposed?, in channels, out channels, input size) of unet_256, ngf 64
LAYERS = [
    (False, 3, 64, 256), (False, 64, 128, 128), (False, 128, 256, 64), (False, 256, 512, 32),
    (False, 512, 512, 16), (False, 512, 512, 8), (False, 512, 512, 4), (False, 512, 512, 2),
    (True, 512, 512, 1), (True, 1024, 512, 2), (True, 1024, 512, 4), (True, 1024, 512, 8),
    (True, 1024, 256, 16), (True, 512, 128, 32), (True, 256, 64, 64), (True, 128, 3, 128),
]


def median_ms(fn: Callable[[], None], repeats: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def forward_backward(layer: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(x)
        y.float().sum().backward()
        layer.zero_grad(set_to_none=True)
        x.grad = None

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    print("layer                      batch  rows  nn ms  matmul ms  matmul/nn  chosen")
    for batch in (int(b) for b in args.batches.split(",")):
        for transposed, cin, cout, size in LAYERS:
            cls = matmul_conv.MatmulConvTranspose2d if transposed else matmul_conv.MatmulConv2d
            layer = cls(cin, cout, 4, 2, 1, bias=False)
            x = torch.randn(batch, cin, size, size, requires_grad=cin != 3)
            chosen = layer._matmul_ok(x)
            rows = batch * (size * size if transposed else (size // 2) ** 2)
            limit = layer.max_rows
            layer.max_rows = 1 << 30  # time both forms whatever the limit says
            fast = median_ms(forward_backward(layer, x), args.repeats)
            layer.max_rows = 0
            plain = median_ms(forward_backward(layer, x), args.repeats)
            layer.max_rows = limit
            name = f"{'convT' if transposed else 'conv '} {cin:4d}->{cout:<4d} @{size:3d}px"
            print(f"{name:26} {batch:5d} {rows:5d} {plain:6.2f} {fast:10.2f} {fast / plain:10.2f}  {'matmul' if chosen else 'nn'}")


if __name__ == "__main__":
    main()
