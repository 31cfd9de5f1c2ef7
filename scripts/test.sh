#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds with warnings as
# errors, runs every test with ctest. Under CI=true a missing peer fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBTRACE_BUILD_TESTS=ON \
  -DDBTRACE_BUILD_BENCH=ON -DDBTRACE_WERROR=ON >/dev/null
cmake --build build/test -j"$(nproc)"
cd build/test && ctest --output-on-failure -j2 --timeout 300
