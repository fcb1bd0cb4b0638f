#!/usr/bin/env bash
# The GPU check run on a lent CUDA machine (no network there: torch, numpy, pillow and
# tqdm come with its image; the package runs from src/). Writes figures to $OUT.
set -u
export PYTHONPATH="$PWD/src:$PWD/tests"
OUT="${OUT:-/tmp/pix2pix-gpu}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"
step() { echo "== $*"; }
step "train (pix2pix, auto precision/channels_last on CUDA), test, translate, resume"
python3 -m pix2pix train demo:shapes --out /tmp/g1 --set data.demo_size=128 --set data.load_size=143 \
    --set data.crop_size=128 --set train.max_steps=60 --set train.batch_size=4 --no-progress 2>&1 | tail -2
python3 -m pix2pix test /tmp/g1 demo:shapes --no-progress --precision bf16 --compile 2>&1 | tail -2
python3 -m pix2pix train --resume /tmp/g1 --set train.max_steps=70 --no-progress 2>&1 | tail -1
step "cyclegan with fp16 + GradScaler"
python3 -m pix2pix train demo:shapes --out /tmp/g2 --set model.method=cyclegan --set data.demo_size=64 \
    --set data.load_size=72 --set data.crop_size=64 --set train.max_steps=20 --set train.precision=fp16 --no-progress 2>&1 | tail -1
step "tests that run on the default device (CUDA here)"
python3 -m pytest tests/test_inference.py tests/test_cyclegan.py tests/test_models.py -q -x -p no:cacheprovider 2>&1 | tail -3
step "benchmark at 256 px on CUDA"
python3 benchmarks/bench.py --device cuda --sizes 256 --seconds 30 --workers 4 --threads 8 --json "$OUT/bench_cuda.json" 2>&1 | tail -10
