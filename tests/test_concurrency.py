"""One loaded model serves many threads at once: the inference mode lives in each call's context."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pix2pix.errors import ConfigError
from pix2pix.models import inference_mode
from pix2pix.models.layers import BatchNorm2d, Dropout


class MeetHere(nn.Module):
    """Passes its input through once two forwards are inside the network at the same moment."""

    def __init__(self, active: bool) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=20) if active else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.barrier is not None:
            self.barrier.wait()  # raises BrokenBarrierError unless another thread is here too
        return x


def _net(with_meeting: bool) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), nn.ReLU(), Dropout(0.5), nn.Conv2d(8, 3, 3, padding=1)]
    net = nn.Sequential(*layers)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(4, 3, 16, 16) * 2 + 1)  # running statistics unlike a single image's
    net = nn.Sequential(*layers[:3], MeetHere(active=with_meeting), *layers[3:])  # same layers and seeds either way
    return net.eval()


def _run(net: nn.Module, mode: str, x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    with inference_mode(net, mode, seed):
        return net(x)


def test_two_calls_in_different_modes_overlap_inside_the_network_and_match_serial_calls():
    x = torch.randn(2, 3, 16, 16)
    serial = _net(with_meeting=False)
    expected = {"per_image": _run(serial, "per_image", x), "eval": _run(serial, "eval", x)}
    assert not torch.allclose(expected["per_image"], expected["eval"])  # the modes do differ
    shared = _net(with_meeting=True)
    with ThreadPoolExecutor(2) as pool:
        futures = {mode: pool.submit(_run, shared, mode, x) for mode in ("per_image", "eval")}
        got = {mode: f.result(timeout=60) for mode, f in futures.items()}  # BrokenBarrierError if they did not meet
    for mode in expected:
        assert torch.equal(got[mode], expected[mode]), mode


def test_eight_threads_translate_with_one_model_as_one_thread_does(trained_run: Path):
    from pix2pix import Translator
    from pix2pix.inference import load_model

    model = load_model(trained_run)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(16)]
    translators = {norm: Translator(model, norm=norm, precision="fp32", compile=False) for norm in ("per_image", "eval")}
    jobs = [(norm, i) for i in range(len(images)) for norm in translators]
    serial = {(norm, i): translators[norm].translate_arrays([images[i]])[0] for norm, i in jobs}
    with ThreadPoolExecutor(8) as pool:
        parallel = dict(zip(jobs, pool.map(lambda job: translators[job[0]].translate_arrays([images[job[1]]])[0], jobs)))
    for job in jobs:
        assert np.array_equal(parallel[job], serial[job]), job


def test_a_generator_of_plain_torch_layers_is_refused_not_silently_wrong():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Dropout(0.5))
    with pytest.raises(ConfigError, match=r"1 is a torch.nn.modules.batchnorm.BatchNorm2d: build generators from pix2pix"):
        with inference_mode(net, "per_image"):
            pass
