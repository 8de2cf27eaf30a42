#!/usr/bin/env bash
# Regenerate the pictures in docs/pictures (shown in README.md, "Pictures") with the built
# binary: the tutorial's two points (1, 3) and (2, 5) fitted from m = -1, b = 5, a demo run,
# and a CPU bench.  Timings in bench.svg are this machine's.
#   scripts/make-pictures.sh [BUILD_DIR]      (default: build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steepest="$(cd "${1:-$root/build}" && pwd)/steepest"
out="$root/docs/pictures"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"

printf 'x,y\n1,3\n2,5\n' > tutorial.csv
tutorial=(fit tutorial.csv --init-weights -1 --init-bias 5 --epochs 150 --quiet)
# The loss per epoch: the tutorial at a small and at a nearly unstable rate (2/L = 0.29),
# and a demo run with held-out rows.
"$steepest" "${tutorial[@]}" --lr 0.1 --history lr-0.1.csv
"$steepest" "${tutorial[@]}" --lr 0.28 --history lr-0.28.csv --trace trace-0.28.csv
"$steepest" demo --rows 20000 --features 8 --epochs 150 --validation-fraction 0.2 --history demo.csv --quiet
"$steepest" plot lr-0.1.csv lr-0.28.csv demo.csv --label "tutorial, lr 0.1" --label "tutorial, lr 0.28" \
  --label "demo, 20000 x 8, lr 0.5" --title "Loss per epoch: the tutorial's two points and a demo run" \
  -o "$out/loss.svg"
# The descent path over the MSE: the zigzag of lr 0.28 across the valley.
"$steepest" plot trace-0.28.csv --data tutorial.csv -o "$out/path.svg"
# CPU against GPU (here: the CPU alone when no GPU is usable; the picture says so).
"$steepest" bench --rows 1000000 --features 16 --epochs 10 --tts-epochs 0 --solver-epochs 0 --quiet \
  --plot "$out/bench.svg"
ls -l "$out"
