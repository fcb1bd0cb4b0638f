#!/usr/bin/env bash
# The package as a user installs it: build the wheel, install it into a fresh virtual environment
# (torch from the Makefile's pin first), and run the console script outside the source tree:
# --help, then a tiny train -> test -> translate.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
torch_spec=$(sed -n 's/^TORCH_SPEC ?= //p' Makefile)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$repo"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "$torch_spec"
"$work/venv/bin/python" -m pip install --quiet "$work"/wheel/pix2pix-*.whl
cd "$work"
p2p="$work/venv/bin/pix2pix"
"$p2p" --help > help.txt
grep -q "check-data" help.txt
if grep -qE "^ +bench " help.txt; then echo "wheel check: an installed package must not offer bench" >&2; exit 1; fi
tiny=(--set data.demo_size=32 --set data.crop_size=32 --set data.load_size=36 --set model.ngf=8 --set model.ndf=8
      --set train.max_steps=3 --set train.val_every=0 --set train.sample_every=0 --set data.num_workers=0)
"$p2p" train demo:shapes --out run --no-progress "${tiny[@]}"
"$p2p" test run demo:shapes --limit 4 --no-progress
input=$(ls run/results/test/images/*_input.png | head -n 1)
"$p2p" translate run "$input" --out translated
ls translated/*.png > /dev/null
echo "wheel check: the installed package trains, tests and translates"
