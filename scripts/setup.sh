#!/usr/bin/env bash
# Install the Debian packages steepest builds with, if any is missing.  Idempotent; needs
# root (or sudo) only when something must be installed.  The CUDA toolkit is optional and
# not installed here: without nvcc the CPU backend is built alone.
#   scripts/setup.sh          build and test dependencies
#   scripts/setup.sh --fuzz   also clang and its fuzzer/sanitizer runtimes
#   scripts/setup.sh --browser  headless Chromium (and a font) for the render_svg test
set -euo pipefail

packages=(cmake ninja-build g++ libgtest-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
          libopenmpi-dev openmpi-bin libhdf5-dev gfortran pkg-config)
if [[ "${1:-}" == "--fuzz" ]]; then
  packages=(clang libclang-rt-14-dev)
fi
if [[ "${1:-}" == "--browser" ]]; then
  packages=(chromium fonts-dejavu-core)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
