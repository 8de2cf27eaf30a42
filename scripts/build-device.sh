#!/usr/bin/env bash
# Builds ./device-build on this (GPU-less) machine for the GPU machine, where there is no
# GoogleTest and no network: Release, sm_90 only, static CUDA runtime, tests and benchmarks
# on, device code with -lineinfo (no effect on the generated code; compute-sanitizer then
# reports file:line).  Test binaries link libgtest statically (Debian ships only libgtest.a); shared
# libraries the GPU machine may lack (libbenchmark, libgomp) are copied into
# device-build/lib, which scripts/device-check.sh puts on LD_LIBRARY_PATH.  The folder
# must stay under 64 MiB: the device tool carries at most that much.
#
# MPI and HDF5 are off by default (the GPU machine's image is not known to have Open MPI's or
# HDF5's shared libraries, and the CLI and libsteepest.so would link them); DEVICE_MPI=ON
# builds MPI in, for a check of the GPU ranks of a distributed fit (copy libmpi along then).
#
# Usage: scripts/build-device.sh [build-dir]     (JOBS=2 by default)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/device-build}
jobs=${JOBS:-2}

cmake -S "$root" -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCMAKE_CUDA_FLAGS=-lineinfo \
  -DSTEEPEST_CUDA_STATIC_RUNTIME=ON \
  -DSTEEPEST_BUILD_TESTS=ON \
  -DSTEEPEST_BUILD_BENCH=ON \
  -DSTEEPEST_ENABLE_MPI="${DEVICE_MPI:-OFF}" \
  -DSTEEPEST_ENABLE_HDF5=OFF \
  -DSTEEPEST_ENABLE_FORTRAN=OFF  # the GPU machine has no libgfortran; the Fortran test is host-only
cmake --build "$build" -j"$jobs"

# Shared libraries the binaries need that the GPU machine's image may not have.
mkdir -p "$build/lib"
while IFS= read -r exe; do
  ldd "$exe" 2>/dev/null | awk '/libbenchmark|libgomp/ {print $3}' | while read -r lib; do
    [ -n "$lib" ] && [ -f "$lib" ] || continue
    cp -Lf "$lib" "$build/lib/"  # under the soname the binary asks for
  done
done < <(find "$build" -maxdepth 2 -type f -perm -u+x \( -name 'test_*' -o -name 'bench_*' -o -name steepest \))

# Where this build came from, for the device check's record (the GPU machine gets no .git).
# dirty=yes when tracked or untracked (not ignored) files differ from the commit;
# diff_sha256 identifies the uncommitted changes to tracked files (empty diff: clean).
dirty_files=$(git -C "$root" status --porcelain 2>/dev/null | wc -l)
{
  echo "commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo none)"
  if git -C "$root" rev-parse HEAD >/dev/null 2>&1; then
    [ "$dirty_files" -gt 0 ] && echo "dirty=yes" || echo "dirty=no"
    echo "diff_sha256=$(git -C "$root" diff HEAD 2>/dev/null | sha256sum | cut -d' ' -f1)"
  else
    echo "dirty=unknown"
  fi
  echo "dirty_files=$dirty_files"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "source_dir=$root"
} > "$build/steepest-build-info.txt"

# Object files, static archives and CMake's own folders are not needed on the GPU machine;
# drop them only when the folder would not travel otherwise (keeping them keeps the next
# build here incremental).  If it is still too large (every test binary carries the kernels'
# fatbin: 136 MiB in all on 2026-12-02), the binaries travel as one gzip'd tar,
# bundle.tar.gz, which scripts/device-check.sh unpacks in place (binaries compress ~2.3x).
# The folder keeps its name: the binaries have its path baked in.
limit=$((64 * 1024 * 1024))
size=$(du -sb "$build" | cut -f1)
if [ "$size" -ge "$limit" ]; then
  find "$build" -name '*.o' -delete
  find "$build" -name '*.a' -delete
  find "$build" -mindepth 1 -type d -name CMakeFiles -prune -exec rm -rf {} +
  size=$(du -sb "$build" | cut -f1)
fi
if [ "$size" -ge "$limit" ]; then
  (
    cd "$build"
    find . -maxdepth 2 \( -type f -o -type l \) \( -perm -u+x -o -name 'libsteepest*.so*' \) ! -name '*.sh' \
      ! -path './lib/*' | sort >bundle.list
    tar -czf bundle.tar.gz -T bundle.list
    xargs rm -f <bundle.list
    rm -f bundle.list
  )
  size=$(du -sb "$build" | cut -f1)
fi
echo "device build: $build, $((size / 1024 / 1024)) MiB ($size bytes)"
if [ "$size" -ge "$limit" ]; then
  echo "error: $build is over the 64 MiB the device tool carries" >&2
  exit 1
fi
