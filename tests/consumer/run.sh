#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs dbtrace into a scratch prefix and builds a consumer against it with
# find_package, then again through add_subdirectory; both must run.
set -euo pipefail
build_dir=$1  # dbtrace's configured build tree
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/dbtrace"
cmake -S "$source_dir/tests/consumer" -B "$work/installed" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/installed" >/dev/null
"$work/installed/consumer" "$work/a.jsonl"
if [ -f "$work/prefix/include/dbtrace/soci.hpp" ]; then
  "$work/installed/soci_consumer"
fi

cmake -S "$source_dir/tests/consumer" -B "$work/subdir" -DDBTRACE_SOURCE_DIR="$source_dir" >/dev/null
# As a subproject dbtrace builds no tests or benchmarks of its own.
if grep -q "unit_tests" "$work/subdir/dbtrace/tests/Makefile" 2>/dev/null; then
  echo "tests were configured in a subproject build" >&2
  exit 1
fi
cmake --build "$work/subdir" --target consumer -j2 >/dev/null
"$work/subdir/consumer" "$work/b.jsonl"
"$work/prefix/bin/dbtrace" trace list --connection-string "file://$work/a.jsonl" | grep -q .
echo "consumer: find_package and add_subdirectory both work"
