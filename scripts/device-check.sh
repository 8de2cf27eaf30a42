#!/usr/bin/env bash
# The one command for the GPU machine (H100/H200: nvcc, cmake, compute-sanitizer; no
# GoogleTest, no network).  Runs a build made beforehand by scripts/build-device.sh
# (./device-build, carried along) or, when that is missing, builds in place (library and
# benchmarks only: without GoogleTest there are no test binaries).  Then:
#   1. every test binary (or those named in TESTS) with STEEPEST_REQUIRE_GPU=1 (a missing
#      GPU fails, never skips);
#   2. compute-sanitizer memcheck, racecheck, initcheck, synccheck on test_cuda_backend,
#      filtered to small shapes that still reach every kernel variant, with
#      STEEPEST_CUDA_SYNC=1 so a fault is reported under the kernel that caused it.  The
#      tool is probed once first; where it refuses the device (gVisor and other sandboxes:
#      "Device not supported", error 999) the sanitizer steps read "unsupported", not
#      failed; each tool's limit is SANITIZER_LIMIT seconds (default 150);
#   3. the benchmarks, if bench binaries exist: bench_gpu first (BENCH_GPU=0 skips it), a quick subset by default
#      (about 40 s on an H100 before the Gram rows, an estimated 55 s with them; BENCH_GPU_FILTER
#      overrides it, '.' runs the whole suite, about 2.5 minutes; BENCH_GPU_MIN_TIME, default
#      0.1 s), then `steepest bench --device cuda`
#      when the CLI has that subcommand, at its default size and at BENCH_LARGE_ROWS rows
#      (default 1e8; 0 skips it), then bench/peers/run_peers.py on the card (PyTorch, CuPy,
#      JAX of the machine's python3; PEERS=0 skips it, PEERS_ROWS sets the size), then the
#      CPU suites only with CPU_BENCH=1 (BENCH_FILTER).  Results go to $OUT as JSON
#      (bench_gpu.json, steepest-bench.json, steepest-bench-large.json, peers-cuda.json, ...).
# Never stops at the first failure: each step's exit code is recorded; the exit code is
# non-zero if any step failed or was cut by the deadline.  Logs and a summary (card,
# driver, date, commit) go to $OUT if set, else ./device-check-out; the device tool returns
# at most 8 files from $OUT, so everything is kept in a few files.  Each step's line is
# appended to the summary as soon as it finishes (a hang or a kill loses nothing already
# done); the summary is printed last.
#
# Time: the whole run has a deadline, DEVICE_CHECK_DEADLINE seconds (default 280, so it
# fits a 5-minute device slot); each step is capped by its own limit and by the time left,
# and a step that would start with too little time left is recorded as "no-time".
# Building in place takes longer: raise the deadline for that.
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

deadline_s=${DEVICE_CHECK_DEADLINE:-280}
started_at=$(date +%s)
deadline_at=$((started_at + deadline_s))
# Kept back from every step: timeout's --kill-after grace plus writing the summary.
reserve_s=15
min_step_s=10
failed=0

row() { printf '%-34s %11s %7s\n' "$1" "$2" "$3" >>"$summary"; }

# step NAME LIMIT_SECONDS COMMAND...: runs it with a time limit (its own, or the time left
# before the deadline if that is less), appends its output to the log and its line (name,
# exit code or status, seconds) to the summary at once.
step() {
  local name=$1 limit=$2
  shift 2
  local now left start end rc
  now=$(date +%s)
  left=$((deadline_at - now - reserve_s))
  if [ "$left" -lt "$min_step_s" ]; then
    echo "=== $name: not started, ${left}s left before the deadline" >>"$log"
    echo "[$name] no-time"
    row "$name" no-time -
    failed=1
    return 0
  fi
  [ "$left" -lt "$limit" ] && limit=$left
  start=$(date +%s)
  {
    echo
    echo "=== $name (limit ${limit}s): $*"
  } >>"$log"
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  end=$(date +%s)
  [ "$rc" -eq 124 ] && echo "=== $name: timed out after ${limit}s" >>"$log"
  echo "=== $name: exit $rc in $((end - start))s" >>"$log"
  echo "[$name] exit $rc ($((end - start))s)"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    row "$name" "timeout" "$((end - start))s"
  else
    row "$name" "$rc" "$((end - start))s"
  fi
  [ "$rc" -ne 0 ] && failed=1
  return 0
}

# --- record what ran where -------------------------------------------------------------------
card=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null)
if [ -n "$commit" ]; then
  [ -n "$(git -C "$root" status --porcelain 2>/dev/null | head -1)" ] && commit="$commit (dirty tree)"
elif [ -f "$build/steepest-build-info.txt" ]; then
  commit=$(grep '^commit=' "$build/steepest-build-info.txt" | cut -d= -f2-)
  dirty=$(grep '^dirty=' "$build/steepest-build-info.txt" | cut -d= -f2-)
  dirty_files=$(grep '^dirty_files=' "$build/steepest-build-info.txt" | cut -d= -f2-)
  commit="$commit (from the build; dirty=${dirty:-unknown}, ${dirty_files:-?} uncommitted files)"
fi
{
  echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "card:     ${card:-none found}"
  echo "driver:   ${driver:-unknown}"
  echo "commit:   ${commit:-unknown}"
  echo "nvcc:     $(nvcc --version 2>/dev/null | tail -1)"
  echo "build:    $build"
  echo "deadline: ${deadline_s}s"
  [ -f "$build/steepest-build-info.txt" ] && sed 's/^/          /' "$build/steepest-build-info.txt"
  echo
} >"$summary"
row step exit time
nvidia-smi >>"$log" 2>&1

# --- a carried build packed by scripts/build-device.sh: unpack it in place ---------------------
if [ -f "$build/bundle.tar.gz" ]; then
  if tar -xzf "$build/bundle.tar.gz" -C "$build"; then
    rm -f "$build/bundle.tar.gz"
    echo "unpacked $build/bundle.tar.gz" >>"$log"
  else
    row unpack failed -
    failed=1
  fi
fi

# --- build in place when no build was carried -------------------------------------------------
if [ ! -d "$build/tests" ] && [ ! -d "$build/bench" ]; then
  step build-in-place 400 bash -c "cmake -S '$root' -B '$build' -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_FLAGS=-lineinfo -DSTEEPEST_BUILD_TESTS=OFF \
    -DSTEEPEST_BUILD_CLI=OFF && cmake --build '$build' -j$(nproc)"
fi

# Paths baked in at build time (the CLI under test, the source dir) point into the
# checkout the build was made in; make that path lead here when it is not this one.
src_dir=$(grep '^CMAKE_HOME_DIRECTORY' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2-)
if [ -n "$src_dir" ] && [ "$src_dir" != "$root" ] && [ ! -e "$src_dir" ]; then
  mkdir -p "$(dirname "$src_dir")" && ln -s "$root" "$src_dir" &&
    echo "linked $src_dir -> $root (paths baked into the build)" >>"$log"
fi

# $build itself holds libsteepest.so (test_c_api, test_fortran link it; their RPATH names
# the build folder of the machine that built them).
export LD_LIBRARY_PATH="$build:$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# bench_gpu links cuBLAS shared (libcublasLt alone is over 500 MB: it is not carried): use
# the toolkit's, found beside nvcc, after the carried libraries.
nvcc_bin=$(command -v nvcc 2>/dev/null)
for dir in "${CUDA_HOME:-}" "${CUDA_PATH:-}" "${nvcc_bin:+$(dirname "$(dirname "$(readlink -f "$nvcc_bin")")")}" \
  /usr/local/cuda; do
  [ -n "$dir" ] || continue
  for lib in "$dir/lib64" "$dir/targets/x86_64-linux/lib" "$dir/lib"; do
    if ls "$lib"/libcublas.so.* >/dev/null 2>&1; then
      export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$lib"
      echo "cuBLAS from $lib" >>"$log"
      break 2
    fi
  done
done
export STEEPEST_REQUIRE_GPU=1

# --- 1. every test binary, GPU required -------------------------------------------------------
tests=$(find "$build/tests" -maxdepth 1 -type f -perm -u+x -name 'test_*' 2>/dev/null | sort)
if [ -n "${TESTS:-}" ]; then  # a re-run: only the named binaries, e.g. TESTS="test_core test_cuda_backend"
  picked=
  for t in $tests; do
    case " $TESTS " in *" $(basename "$t") "*) picked="$picked $t" ;; esac
  done
  tests=$picked
fi
if [ -z "$tests" ]; then
  row tests none -
  echo "no test binaries under $build/tests (built without GoogleTest?)" >>"$log"
fi
for t in $tests; do
  step "$(basename "$t")" 240 "$t" --gtest_brief=1
done

# --- 2. compute-sanitizer on the GPU tests ----------------------------------------------------
cuda_test="$build/tests/test_cuda_backend"
# Small shapes covering: register kernel buckets 1/2/4/16/32 with scalar, vector and
# column-major loads, tiled row/column-major with one and many tiles per block and tiles of
# 1 and 2 rows, both dtypes and mixed ones, every strided upload path, ordered batches,
# step, the running loss, repeatability (poisoned allocator) and the targeted tests.
filter='Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n33_d17_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n1000_d4_f32_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n1000_d16_f64_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n257_d2_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n33_d1500_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n9_d*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/n12007_d40_*'
filter+=':Shapes/CudaVsCpu.LossGradientStepAndRunningLoss/*strided*'
filter+=':Repeat/CudaRepeatable.BitwiseRepeatable/n31_d3_*'
filter+=':Repeat/CudaRepeatable.BitwiseRepeatable/n257_d2_*'
filter+=':Repeat/CudaRepeatable.BitwiseRepeatable/n9_d6000_*'
filter+=':CudaBackend.*'
# The Gram pass: every kernel (small d in 1..5 blocks of 8 columns, pairs with one and 34
# pair groups), both layouts and dtypes, weighted, ordered; repeatability and the fit state
# left alone; bad ranges.  CudaGramLarge (hundreds of thousands of rows) stays out.
filter+=':CudaGram.*'

sanitizer=$(command -v compute-sanitizer 2>/dev/null)
for dir in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
  [ -z "$sanitizer" ] && [ -n "$dir" ] && [ -x "$dir/bin/compute-sanitizer" ] &&
    sanitizer="$dir/bin/compute-sanitizer"
done

if [ ! -x "$cuda_test" ]; then
  row sanitizer skip -
  echo "$cuda_test missing: sanitizer runs skipped" >>"$log"
  failed=1
elif [ -z "$sanitizer" ]; then
  row sanitizer skip -
  echo "compute-sanitizer not found: sanitizer runs skipped" >>"$log"
else
  # Probe once: the version, then one tiny GPU test under memcheck.  Sandboxes that hide
  # the device from the tool (gVisor) refuse here; their refusal is not our bug.
  probe_log="$out/sanitizer-probe.tmp"
  {
    echo
    echo "=== sanitizer-probe: $sanitizer"
    "$sanitizer" --version 2>&1 | tail -2
  } >>"$log"
  timeout --signal=TERM --kill-after=5 60 env STEEPEST_CUDA_SYNC=1 "$sanitizer" \
    --tool memcheck --error-exitcode 99 "$cuda_test" --gtest_brief=1 \
    --gtest_filter=CudaBackend.DeviceNameNamesTheCard >"$probe_log" 2>&1
  probe_rc=$?
  cat "$probe_log" >>"$log"
  echo "=== sanitizer-probe: exit $probe_rc" >>"$log"
  unsupported_re='Device not supported|not supported on this (device|platform)|error 999|'
  unsupported_re+='CUDA_ERROR_UNKNOWN|cudaErrorUnknown|Internal Sanitizer Error'
  if [ "$probe_rc" -ne 0 ] && grep -Eqi "$unsupported_re" "$probe_log"; then
    echo "compute-sanitizer refuses this device: sanitizer steps marked unsupported" >>"$log"
    for tool in memcheck racecheck initcheck synccheck; do
      row "sanitizer-$tool" unsupported -
    done
  else
    [ "$probe_rc" -ne 0 ] &&
      echo "sanitizer probe failed (exit $probe_rc) for another reason: running the steps" >>"$log"
    for tool in memcheck racecheck initcheck synccheck; do
      step "sanitizer-$tool" "${SANITIZER_LIMIT:-150}" env STEEPEST_CUDA_SYNC=1 "$sanitizer" --tool "$tool" \
        --error-exitcode 99 "$cuda_test" --gtest_brief=1 "--gtest_filter=$filter"
    done
  fi
  rm -f "$probe_log"
fi

# --- 3. benchmarks ----------------------------------------------------------------------------
# The GPU suite first: it is what this machine is for.  The default filter keeps a quick,
# representative subset: the fused pass for float32 row-major d = 1, 16, 256, float64 d = 16
# and column-major float32 d = 16; the Gram pass for float32 row-major d = 1, 16, 32 (three
# more shapes to make and upload: an estimated 15 s more, not yet measured); the 6.8 GB
# ceilings; cuBLAS at d = 16; both epochs; the upload both ways (BM_Upload).
gpu_filter='GpuFusedPass/rows:[0-9]+/d:(1|16|256)/f32:1/colmajor:0/'
gpu_filter+='|GpuFusedPass/rows:[0-9]+/d:16/f32:(0/colmajor:0|1/colmajor:1)/'
gpu_filter+='|GpuGramPass/rows:[0-9]+/d:(1|16|32)/'
gpu_filter+='|Ceiling/bytes:6800000000/|CublasGemvPlusLoss/rows:[0-9]+/d:16/|Epoch'
gpu_filter+='|Upload'  # pageable against STEEPEST_CUDA_UPLOAD=pinned, 1.7 GB (about 15 s, estimated)
gpu_bench="$build/bench/bench_gpu"
if [ "${BENCH_GPU:-1}" != 1 ]; then
  row bench_gpu skip -
  echo "bench_gpu skipped (BENCH_GPU=${BENCH_GPU})" >>"$log"
elif [ -x "$gpu_bench" ]; then
  step bench_gpu 240 "$gpu_bench" "--benchmark_min_time=${BENCH_GPU_MIN_TIME:-0.1}" \
    "--benchmark_filter=${BENCH_GPU_FILTER:-$gpu_filter}" --benchmark_counters_tabular=true \
    "--benchmark_out=$out/bench_gpu.json" --benchmark_out_format=json
else
  row bench_gpu none -
  echo "$gpu_bench missing (built without CUDA or Google Benchmark?)" >>"$log"
fi

# `steepest bench` (the CLI's own benchmark), only where the CLI has that subcommand.
cli="$build/steepest"
if [ -x "$cli" ] && "$cli" bench --help >/dev/null 2>&1; then
  cli_json=()
  "$cli" bench --help 2>&1 | grep -q -- '--json' && cli_json=(--json "$out/steepest-bench.json")
  step steepest-bench 120 "$cli" bench --device cuda ${cli_json[@]+"${cli_json[@]}"}
else
  row steepest-bench skip -
  echo "no 'steepest bench' subcommand in $cli: skipped" >>"$log"
fi

# The issue's scale: n = 1e8 rows (6.4 GB of float32 on the card), a few epochs.
if [ -x "$cli" ] && [ "${BENCH_LARGE_ROWS:-100000000}" -gt 0 ]; then
  step steepest-bench-large 150 "$cli" bench --device cuda --rows "${BENCH_LARGE_ROWS:-100000000}" \
    --epochs 3 --tts-epochs 100 ${cli_json[@]+--json "$out/steepest-bench-large.json"}
fi

# Peers on the same card (PyTorch, CuPy, JAX from the machine's python3), same .npy file.
if [ "${PEERS:-1}" = 1 ] && [ -x "$cli" ] && python3 -c 'import numpy' >/dev/null 2>&1; then
  step peers-cuda 150 env PYTHONUNBUFFERED=1 python3 "$root/bench/peers/run_peers.py" \
    --steepest "$cli" --device cuda --dtype float32 --rows "${PEERS_ROWS:-10000000}" \
    --features 16 --epochs 100 --lr 0.5 --repeats 3 \
    --only numpy-lstsq,torch-nn,torch-fused,cupy-fused,jax-fused --json "$out/peers-cuda.json"
fi

# The CPU suites measure the host, not the card: only when asked (CPU_BENCH=1).
benches=$(find "$build/bench" -maxdepth 1 -type f -perm -u+x -name 'bench_*' 2>/dev/null | sort)
[ "${CPU_BENCH:-0}" = 1 ] || benches=
for b in $benches; do
  name=$(basename "$b")
  [ "$name" = bench_gpu ] && continue
  step "$name" 150 "$b" --benchmark_min_time=0.2 ${BENCH_FILTER:+--benchmark_filter=$BENCH_FILTER} \
    "--benchmark_out=$out/$name.json" --benchmark_out_format=json
done

# --- summary, last ----------------------------------------------------------------------------
{
  echo
  echo "total: $(($(date +%s) - started_at))s of ${deadline_s}s"
  [ "$failed" -eq 0 ] && echo "device check: PASSED" || echo "device check: FAILED (see $log)"
} >>"$summary"
echo
cat "$summary"
exit "$failed"
