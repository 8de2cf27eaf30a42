#!/usr/bin/env bash
# The one command for the GPU machine (H100/H200: nvcc, cmake, compute-sanitizer; no
# GoogleTest, no network).  Runs a build made beforehand by scripts/build-device.sh
# (./device-build, carried along) or, when that is missing, builds in place (library and
# benchmarks only: without GoogleTest there are no test binaries).  Then:
#   1. every test binary with STEEPEST_REQUIRE_GPU=1 (a missing GPU fails, never skips);
#   2. compute-sanitizer memcheck, racecheck, initcheck, synccheck on test_cuda_backend,
#      filtered to small shapes that still reach every kernel variant;
#   3. the benchmarks, if bench binaries exist.
# Never stops at the first failure: each step's exit code is recorded; the exit code is
# non-zero if any step failed.  Logs and a summary (card, driver, date, commit) go to $OUT
# if set, else ./device-check-out; the device tool returns at most 8 files from $OUT, so
# everything is kept in a few files.  The summary table is printed last.  Whole run: a few
# minutes (each step has its own time limit).
#
# Usage: scripts/device-check.sh [build-dir]
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/device-build}
out=${OUT:-$root/device-check-out}
mkdir -p "$out"
log="$out/device-check.log"
summary="$out/summary.txt"
: >"$log"

steps=()
failed=0

# step NAME LIMIT_SECONDS COMMAND...: runs it with a time limit, appends its output to the
# log, records name, exit code and seconds.
step() {
  local name=$1 limit=$2
  shift 2
  local start end rc
  start=$(date +%s)
  {
    echo
    echo "=== $name: $*"
  } >>"$log"
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  end=$(date +%s)
  [ "$rc" -eq 124 ] && echo "=== $name: timed out after ${limit}s" >>"$log"
  echo "=== $name: exit $rc in $((end - start))s" >>"$log"
  echo "[$name] exit $rc ($((end - start))s)"
  steps+=("$(printf '%-28s %6s %6ss' "$name" "$rc" "$((end - start))")")
  [ "$rc" -ne 0 ] && failed=1
  return 0
}

# --- record what ran where -------------------------------------------------------------------
card=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null)
if [ -z "$commit" ] && [ -f "$build/steepest-build-info.txt" ]; then
  commit=$(grep '^commit=' "$build/steepest-build-info.txt" | cut -d= -f2-)
  dirty=$(grep '^dirty_files=' "$build/steepest-build-info.txt" | cut -d= -f2-)
  commit="$commit (from the build; $dirty uncommitted files)"
fi
{
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "card:    ${card:-none found}"
  echo "driver:  ${driver:-unknown}"
  echo "commit:  ${commit:-unknown}"
  echo "nvcc:    $(nvcc --version 2>/dev/null | tail -1)"
  echo "build:   $build"
  [ -f "$build/steepest-build-info.txt" ] && sed 's/^/         /' "$build/steepest-build-info.txt"
} >"$summary"
nvidia-smi >>"$log" 2>&1

# --- build in place when no build was carried -------------------------------------------------
if [ ! -d "$build/tests" ] && [ ! -d "$build/bench" ]; then
  step build-in-place 400 bash -c "cmake -S '$root' -B '$build' -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DSTEEPEST_BUILD_TESTS=OFF -DSTEEPEST_BUILD_CLI=OFF && \
    cmake --build '$build' -j$(nproc)"
fi

# Paths baked in at build time (the CLI under test, the source dir) point into the
# checkout the build was made in; make that path lead here when it is not this one.
src_dir=$(grep '^CMAKE_HOME_DIRECTORY' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2-)
if [ -n "$src_dir" ] && [ "$src_dir" != "$root" ] && [ ! -e "$src_dir" ]; then
  mkdir -p "$(dirname "$src_dir")" && ln -s "$root" "$src_dir" &&
    echo "linked $src_dir -> $root (paths baked into the build)" >>"$log"
fi

export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export STEEPEST_REQUIRE_GPU=1

# --- 1. every test binary, GPU required -------------------------------------------------------
tests=$(find "$build/tests" -maxdepth 1 -type f -perm -u+x -name 'test_*' 2>/dev/null | sort)
if [ -z "$tests" ]; then
  steps+=("$(printf '%-28s %6s %6s' 'tests' 'none' '-')")
  echo "no test binaries under $build/tests (built without GoogleTest?)" >>"$log"
fi
for t in $tests; do
  step "$(basename "$t")" 240 "$t" --gtest_brief=1
done

# --- 2. compute-sanitizer on the GPU tests ----------------------------------------------------
cuda_test="$build/tests/test_cuda_backend"
# Small shapes covering: register kernel scalar/vector/column-major, tiled row/column-major,
# both dtypes, strided upload, ordered batches, step and the error paths.
filter='Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n33_d17_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n1000_d4_f32_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n257_d2_f64_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n33_d1500_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/*strided'
filter+=':Shapes/CudaVsCpu.BitwiseRepeatable/n31_d3_*:CudaBackend.*'
if [ -x "$cuda_test" ] && command -v compute-sanitizer >/dev/null 2>&1; then
  for tool in memcheck racecheck initcheck synccheck; do
    step "sanitizer-$tool" 150 compute-sanitizer --tool "$tool" --error-exitcode 99 \
      "$cuda_test" --gtest_brief=1 "--gtest_filter=$filter"
  done
else
  steps+=("$(printf '%-28s %6s %6s' 'sanitizer' 'skip' '-')")
  echo "compute-sanitizer or $cuda_test missing: sanitizer runs skipped" >>"$log"
  [ -x "$cuda_test" ] || failed=1
fi

# --- 3. benchmarks ----------------------------------------------------------------------------
benches=$(find "$build/bench" -maxdepth 1 -type f -perm -u+x -name 'bench_*' 2>/dev/null | sort)
for b in $benches; do
  name=$(basename "$b")
  step "$name" 150 "$b" --benchmark_min_time=0.2 ${BENCH_FILTER:+--benchmark_filter=$BENCH_FILTER} \
    "--benchmark_out=$out/$name.json" --benchmark_out_format=json
done

# --- summary, last ----------------------------------------------------------------------------
{
  echo
  printf '%-28s %6s %7s\n' step exit time
  for s in "${steps[@]}"; do echo "$s"; done
  echo
  [ "$failed" -eq 0 ] && echo "device check: PASSED" || echo "device check: FAILED (see $log)"
} >>"$summary"
echo
cat "$summary"
exit "$failed"
