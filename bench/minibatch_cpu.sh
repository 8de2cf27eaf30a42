#!/usr/bin/env bash
# The CPU's mini-batch epoch by solver: residual (a pass and a step a batch) against gram
# (mini-batch Gram mode: the batches' Gram sums, then O(d^2) a step; with fixed batches and
# an affine rule, one affine map an epoch).  B = 1024, float32 .npy made by `steepest gen`.
# An epoch's cost is (t(E2) - t(E1)) / (E2 - E1) of two fits' "epochs in" wall times (the
# set-up and the final exact pass cancel); the full-batch residual epoch is measured alike.
#   bench/minibatch_cpu.sh [BUILD_DIR] [DATA_DIR] > bench/results/minibatch-cpu-<machine>-<date>.md
# Each shape's file is 0.7-2.6 GB; the shapes are ROWSxFEATURES pairs in $SHAPES.  The batch
# orders in $ORDERS: shuffled (single rows), runs (--shuffle-block 1024: batches of whole
# runs, whose sums gram keeps) and fixed (--no-shuffle).
set -euo pipefail
build=${1:-build}
data=${2:-/tmp/steepest-minibatch}
shapes=${SHAPES:-"40000000x4 10000000x16 10000000x64"}
orders=${ORDERS:-"shuffled runs fixed"}
mkdir -p "$data"
seconds() { "$build/steepest" fit "$@" --device cpu --lr 0.001 2>&1 | sed -n 's/.* epochs in \([0-9.]*\) s.*/\1/p'; }
epoch() {  # epoch FILE E1 E2 ARGS...: seconds an epoch
  local file=$1 e1=$2 e2=$3
  shift 3
  local a b
  a=$(seconds "$file" --epochs "$e1" "$@")
  b=$(seconds "$file" --epochs "$e2" "$@")
  awk -v a="$a" -v b="$b" -v e1="$e1" -v e2="$e2" 'BEGIN { printf "%.3g", (b - a) / (e2 - e1) }'
}
echo "| shape | batches | history | optimizer | residual s/epoch | gram s/epoch | residual / gram | gram / full-batch epoch |"
echo "|---|---|---|---|---|---|---|---|"
for shape in $shapes; do
  rows=${shape%x*} cols=${shape#*x}
  file="$data/n${rows}d${cols}.npy"
  [[ -f "$file" ]] || "$build/steepest" gen --rows "$rows" --features "$cols" --dtype float32 -o "$file" -q
  full=$(epoch "$file" 5 25 --solver residual)
  for order in $orders; do
    case $order in
      fixed) shuffle=--no-shuffle ;;
      runs) shuffle="--shuffle-block 1024" ;;
      *) shuffle= ;;
    esac
    for history in running exact; do
      for optimizer in gd momentum; do
        # Fixed batches are cheap with gram (O(d^2) a step; with exact history, affine epochs:
        # one matrix-vector product), so many more of them: the clock has 1 ms steps.
        e1=1 e2=4
        [[ $order != shuffled ]] && e1=5 e2=50
        [[ $order == fixed && $history == exact ]] && e1=200 e2=20000
        args=(--batch-size 1024 --history-mode "$history" --optimizer "$optimizer" $shuffle)
        r=$(epoch "$file" 1 4 "${args[@]}" --solver residual)
        g=$(epoch "$file" "$e1" "$e2" "${args[@]}" --solver gram)
        awk -v s="$shape" -v o="$order" -v h="$history" -v p="$optimizer" -v r="$r" -v g="$g" -v f="$full" \
          'BEGIN { printf "| %s | %s | %s | %s | %.3g | %.3g | %.3g | %.3g |\n", s, o, h, p, r, g, r / g, g / f }'
      done
    done
  done
  echo "| $shape | full batch | | gd | $full | | | |"
done
