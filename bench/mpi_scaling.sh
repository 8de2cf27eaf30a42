#!/usr/bin/env bash
# MPI scaling of a CPU fit, 1-4 ranks, strong (2e6 rows in all) and weak (1e6 rows per
# rank), 16 float32 features, one thread per rank; one JSON line per run on stdout.
#   bench/mpi_scaling.sh [BUILD_DIR] > bench/results/mpi-scaling-<machine>-<date>.jsonl
# On a machine with fewer cores than ranks (--oversubscribe) the times measure correctness
# under oversubscription, not scaling: see bench/README.md.
set -euo pipefail
build=${1:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for ranks in 1 2 3 4; do
  mpirun -np "$ranks" "$build/bench/bench_mpi" --rows 2000000 --features 16 --epochs 5 --batch 1024
done
for ranks in 1 2 3 4; do
  mpirun -np "$ranks" "$build/bench/bench_mpi" --rows 1000000 --features 16 --epochs 5 --batch 1024 --weak
done
