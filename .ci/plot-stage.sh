#!/usr/bin/env bash
# CI stage for the pictures of `steepest plot`: install headless Chromium, then run the
# render_svg ctest test against an existing build directory, requiring the browser (a missing
# chromium fails the stage instead of skipping the test).
#   .ci/plot-stage.sh BUILD_DIR
set -euo pipefail
build="${1:?usage: .ci/plot-stage.sh BUILD_DIR (an existing, built build directory)}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$build/CTestTestfile.cmake" ]] || { echo "plot-stage: $build is not a configured build directory" >&2; exit 1; }
"$root/scripts/setup.sh" --browser
cmake --build "$build" --target steepest_cli test_plot
STEEPEST_REQUIRE_BROWSER=1 ctest --test-dir "$build" --no-tests=error -R '^(render_svg|Plot)' --output-on-failure
