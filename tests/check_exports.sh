#!/usr/bin/env bash
# libsteepest.so exports what cmake/libsteepest.map says and nothing else: the C API
# (steepest_*), the public C++ API (steepest::, never steepest::detail) with its type
# information and virtual tables; and its SONAME carries the version.
# Usage: check_exports.sh LIBRARY EXPECTED_SONAME
set -euo pipefail
lib=$1 soname=$2
symbols=$(nm -D --defined-only "$lib" | awk '{print $3}' | c++filt)
unexpected=$(grep -Ev '^(steepest_[a-z0-9_]+|steepest::.*|(typeinfo|typeinfo name|vtable) for steepest::.*)$' <<<"$symbols" || true)
detail=$(grep -E '(^| )steepest::detail::' <<<"$symbols" || true)
status=0
if [[ -n "$unexpected" || -n "$detail" ]]; then
  echo "symbols exported by $lib that should be hidden:"
  printf '%s\n' "$unexpected" "$detail" | sed '/^$/d' | head -n 40
  status=1
fi
for required in steepest_fit steepest_last_error steepest_options_set_text 'steepest::fit(' \
                 'typeinfo for steepest::InvalidArgument'; do
  if ! grep -qF "$required" <<<"$symbols"; then
    echo "missing export: $required"
    status=1
  fi
done
actual=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
if [[ "$actual" != "$soname" ]]; then
  echo "SONAME is '$actual', expected '$soname'"
  status=1
fi
count=$(grep -c '^steepest_' <<<"$symbols")
echo "$lib: $count C functions, $(wc -l <<<"$symbols") symbols in all, SONAME $actual"
exit $status
