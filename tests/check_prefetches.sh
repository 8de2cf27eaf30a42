#!/usr/bin/env bash
# The CPU kernels' software prefetches are in the compiled code: every function of the
# families below, in every kernel set, holds a prefetch instruction.  GCC drops the
# prefetches of a helper it deems pure (no other effect), silently: the Gram tile's look-ahead
# was compiled out that way until 2026-12-03, a pass 10-25 % slower at d >= 24.  x86 only
# (the prefetcht* mnemonics); elsewhere this reports and passes.  Cold clones and lambdas
# (separate functions at -O0) are not kernels of their own.
# Usage: check_prefetches.sh LIBRARY
set -euo pipefail
lib=$1
case "$(uname -m)" in x86_64 | i?86) ;; *) echo "not x86: nothing to check"; exit 0 ;; esac
families='gram_tiled|gram_small|f32_rows_small|f32_rows_wide|row_major_small|row_major_chunk'
report=$(objdump -d --no-show-raw-insn -C "$lib" | awk -v fam="$families" '
  /^[0-9a-f]+ <.*>:$/ {
    name = $0; sub(/^[0-9a-f]+ </, "", name); sub(/>:$/, "", name)
    keep = name ~ ("steepest::detail::[a-z0-9]+::(" fam ")<") && name !~ /\[clone \.cold\]|::\{lambda/
    if (keep) { seen[name] = 1; if (!(name in count)) count[name] = 0 }
    next
  }
  keep && /prefetch/ { count[name]++ }
  END { for (n in seen) print count[n] "\t" n }')
total=$(grep -c . <<<"$report" || true)
missing=$(awk -F'\t' '$1 == 0 {print $2}' <<<"$report")
if [[ "$total" -eq 0 ]]; then
  echo "no kernel functions of ($families) found in $lib"
  exit 1
fi
if [[ -n "$missing" ]]; then
  echo "kernel functions without a prefetch instruction in $lib:"
  head -n 20 <<<"$missing"
  exit 1
fi
echo "$lib: $total kernel functions, each with its prefetches"
