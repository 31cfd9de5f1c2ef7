#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs dbtrace into a scratch prefix and builds a consumer against it with
# find_package, then again through add_subdirectory; both must run. With
# shared libraries (the default) also: the consumers link no store client
# library (ldd), a store named by its scheme is loaded from the prefix, a
# missing one is named, pkg-config builds them too, and the SOCI consumer
# builds where libsoci-dev is the only development package (only_soci_dev.sh).
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

if [ -n "$(find "$work/prefix" -name 'libdbtrace_core.so')" ]; then
  echo "== shared libraries: what a consumer links"
  for program in consumer soci_consumer; do
    [ -x "$work/installed/$program" ] || continue
    libraries=$(ldd "$work/installed/$program" | awk '{print $1}' | tr '\n' ' ')
    echo "$program: $libraries"
    if echo "$libraries" | grep -Eq 'libcurl|libhiredis|libpq\.|libpqxx|libmariadb'; then
      echo "$program links a store's or another backend's client library" >&2; exit 1
    fi
  done
  if [ -n "$(find "$work/prefix" -name 'libdbtrace_redis.so*')" ]; then
    if [ -z "${DBTRACE_TEST_REDIS:-}" ]; then
      [ "${CI:-}" != true ] || { echo "DBTRACE_TEST_REDIS is not set" >&2; exit 1; }
    fi
  fi
  if [ -n "${DBTRACE_TEST_REDIS:-}" ] && [ -n "$(find "$work/prefix" -name 'libdbtrace_redis.so*')" ]; then
    echo "== a store loaded by its scheme"
    # A Redis database of this test's own: others run beside it and write
    # keys that are broken on purpose into the default one.
    redis=${DBTRACE_TEST_REDIS%/*}/9
    "$work/installed/consumer" "$redis"
    "$work/prefix/bin/dbtrace" trace list --connection-string "$redis" > "$work/redis-traces.txt"
    grep -q . "$work/redis-traces.txt"
    cp -a "$work/prefix" "$work/prefix-without-redis"
    find "$work/prefix-without-redis" -name 'libdbtrace_redis.so*' -delete
    if "$work/prefix-without-redis/bin/dbtrace" trace list \
      --connection-string "redis://:hunter2@127.0.0.1:1" > "$work/no-redis.log" 2>&1; then
      echo "a missing store library was not noticed" >&2; exit 1
    fi
    cat "$work/no-redis.log"
    grep -q "the redis store's library could not be loaded: .*libdbtrace_redis.so" "$work/no-redis.log"
    ! grep -q hunter2 "$work/no-redis.log"
  fi
  echo "== pkg-config"
  pc_dir=$(dirname "$(find "$work/prefix" -name dbtrace-core.pc)")
  libdir=$(PKG_CONFIG_PATH=$pc_dir pkg-config --variable=libdir dbtrace-core)
  # shellcheck disable=SC2046
  g++ -std=c++17 "$source_dir/tests/consumer/main.cpp" -o "$work/pc-consumer" \
    $(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs dbtrace-core) "-Wl,-rpath,$libdir"
  "$work/pc-consumer" "$work/c.jsonl"
  if [ -f "$pc_dir/dbtrace-soci.pc" ]; then
    # shellcheck disable=SC2046
    g++ -std=c++17 "$source_dir/tests/consumer/soci_main.cpp" -o "$work/pc-soci-consumer" \
      $(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs dbtrace-soci) -lsoci_sqlite3 "-Wl,-rpath,$libdir"
    "$work/pc-soci-consumer"
    if [ "$(id -u)" = 0 ]; then
      "$source_dir/tests/consumer/only_soci_dev.sh" "$work/prefix"
    elif [ "${CI:-}" = true ]; then
      echo "only_soci_dev.sh needs root (a mount namespace)" >&2; exit 1
    else
      echo "not root: the build with libsoci-dev alone (only_soci_dev.sh) is left out"
    fi
  fi
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
