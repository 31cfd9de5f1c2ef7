#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: installs what it needs, builds with warnings as
# errors, starts throwaway PostgreSQL, MariaDB and Redis servers on loopback,
# runs every test with ctest, stops the servers. Under CI=true a missing server
# or peer fails. The plain run then builds SOCI 4.1 from its source tarball
# (scripts/soci_from_source.sh) and runs the SOCI shim's tests against it too;
# it also builds libpqxx 6.4.5, 7.10 and 8.0 from theirs (scripts/pqxx_from_source.sh):
# the libpqxx shim's tests run against 7.10 and 8.0 as well (8.0 with clang and
# libc++, build/test-libpqxx-8.0.1), and libpqxx's own suites traced.
#
#   scripts/test.sh                                  the suite (build/test), then SOCI 4.1 (build/test-soci-4.1.4)
#   scripts/test.sh --sanitize=address,undefined     the suite under ASan + UBSan (build/test-asan)
#   scripts/test.sh --sanitize=thread                the suite under TSan (build/test-tsan)
#
# A sanitizer mode builds without benchmarks and examples and leaves out the
# install-and-consume tests (they link the installed, instrumented libraries
# into an uninstrumented program); any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

sanitize=
for arg in "$@"; do
  case "$arg" in
    --sanitize=address,undefined | --sanitize=undefined,address) sanitize=address ;;
    --sanitize=thread) sanitize=thread ;;
    *) echo "usage: $0 [--sanitize=address,undefined | --sanitize=thread]" >&2; exit 2 ;;
  esac
done

scripts/deps.sh test
build=build/test
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBTRACE_BUILD_BENCH=ON)
exclude=()
case "$sanitize" in
  address)
    build=build/test-asan
    # vptr: Debian's SOCI libraries carry no typeinfo for UBSan's vptr check.
    flags=(-DCMAKE_BUILD_TYPE=Debug -DDBTRACE_BUILD_BENCH=OFF -DDBTRACE_BUILD_EXAMPLES=OFF
      "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"
      "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
    export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    exclude=(-E 'install_and_consume|readme_install_and_consumer')
    ;;
  thread)
    build=build/test-tsan
    flags=(-DCMAKE_BUILD_TYPE=Debug -DDBTRACE_BUILD_BENCH=OFF -DDBTRACE_BUILD_EXAMPLES=OFF
      # -Wno-tsan: moodycamel's queue uses atomic_thread_fence, which TSan does not model.
      "-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan"
      "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread")
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp"
    exclude=(-E 'install_and_consume|readme_install_and_consumer')
    ;;
esac

# libpqxx 7.10 (which Debian does not ship) and 6.4.5 (Debian's), built from
# their tarballs with their own test suites: the shim's tests run against 7.10
# too, and both suites run traced (tests/pqxx_suite/run.sh). libpqxx 8 needs
# <format>, which Debian 12's GCC 12 lacks: it has a build of its own, below.
pqxx_builds=
if [ -z "$sanitize" ]; then
  for v in 6.4.5 7.10.7; do
    scripts/pqxx_from_source.sh "$v" >/dev/null
    pqxx_builds="$pqxx_builds${pqxx_builds:+;}$root/build/deps/libpqxx-$v"
  done
fi
flags+=("-DDBTRACE_TEST_PQXX_BUILDS=$pqxx_builds")
cmake -S . -B "$build" -DDBTRACE_BUILD_TESTS=ON -DDBTRACE_WERROR=ON -DDBTRACE_WITH_SOCI=ON \
  -DDBTRACE_WITH_PQXX=ON -DDBTRACE_WITH_REDIS=ON -DDBTRACE_WITH_OTLP=ON "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
# The official OTLP definitions for the OTLP test, pinned by package-lock.json.
[ -d tests/otlp/node_modules/@opentelemetry/otlp-transformer ] ||
  (cd tests/otlp && npm ci --silent --no-audit --no-fund >/dev/null)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
servers=$(mktemp -d /tmp/dbtrace-servers.XXXXXX)
chmod 755 "$servers"
cleanup() {
  "$root/scripts/pg_server.sh" stop "$servers/pg" || true
  "$root/scripts/mariadb_server.sh" stop "$servers/mariadb" || true
  "$root/scripts/redis_server.sh" stop "$servers/redis" || true
  rm -rf "$servers"
}
trap cleanup EXIT
pg_port=$(free_port)
if scripts/pg_server.sh start "$servers/pg" "$pg_port"; then
  export DBTRACE_TEST_PG="host=127.0.0.1 port=$pg_port dbname=app user=app password=app-secret"
  export DBTRACE_TEST_PG_ADMIN="host=127.0.0.1 port=$pg_port dbname=postgres user=postgres"
  export DBTRACE_TEST_PG_URI="postgresql://app:app-secret@127.0.0.1:$pg_port/app"
elif [ "${CI:-}" = true ]; then
  echo "test.sh: could not start PostgreSQL (see $servers/pg/*.log)" >&2
  exit 1
fi

mysql_port=$(free_port)
if scripts/mariadb_server.sh start "$servers/mariadb" "$mysql_port"; then
  export DBTRACE_TEST_MYSQL="host=127.0.0.1 port=$mysql_port db=app user=app password=app-secret"
elif [ "${CI:-}" = true ]; then
  echo "test.sh: could not start MariaDB (see $servers/mariadb/*.log)" >&2
  exit 1
fi

redis_port=$(free_port)
if scripts/redis_server.sh start "$servers/redis" "$redis_port"; then
  export DBTRACE_TEST_REDIS="redis://127.0.0.1:$redis_port/0"
elif [ "${CI:-}" = true ]; then
  echo "test.sh: could not start Redis (see $servers/redis/redis.log)" >&2
  exit 1
fi

soci_version_of() { sed -n 's/^#define SOCI_VERSION \([0-9]*\)$/\1/p' "$1/soci/version.h"; }
export DBTRACE_TEST_SOCI_VERSION=$(soci_version_of /usr/include)  # Debian's
(cd "$build" && ctest --output-on-failure -j2 --timeout 600 "${exclude[@]}")

# SOCI 4.1, which Debian does not ship: the shim built against it (its build
# checks that every backend virtual is forwarded) and its tests run on it,
# with static libraries (-DBUILD_SHARED_LIBS=OFF), the other way dbtrace builds.
if [ -z "$sanitize" ]; then
  soci_version=4.1.4
  soci_prefix=$(scripts/soci_from_source.sh "$soci_version")
  soci_build=build/test-soci-$soci_version
  echo "test.sh: the SOCI shim against SOCI $soci_version ($soci_build)"
  cmake -S . -B "$soci_build" -DCMAKE_PREFIX_PATH="$soci_prefix" -DDBTRACE_BUILD_TESTS=ON \
    -DDBTRACE_WERROR=ON -DDBTRACE_WITH_SOCI=ON -DDBTRACE_WITH_PQXX=OFF -DDBTRACE_WITH_REDIS=OFF \
    -DDBTRACE_WITH_OTLP=OFF -DBUILD_SHARED_LIBS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$soci_build" -j"$(nproc)" --target soci_tests
  DBTRACE_TEST_SOCI_VERSION=$(soci_version_of "$soci_prefix/include") \
    "$soci_build/tests/soci_tests" --gtest_brief=1
fi

# libpqxx 8, whose headers need C++20's <format> (GCC 13; Debian 12 has 12):
# built with clang 16 and libc++ (scripts/pqxx_from_source.sh), and so is
# dbtrace for it here, GoogleTest from its source, as a C++ library works only
# with the standard library it was built with. The libpqxx shim's tests run
# against it, the CLI builds with it, and libpqxx 8's own suite runs traced.
if [ -z "$sanitize" ]; then
  pqxx8_version=8.0.1
  pqxx8_prefix=$(scripts/pqxx_from_source.sh "$pqxx8_version")
  pqxx8_build=build/test-libpqxx-$pqxx8_version
  echo "test.sh: the libpqxx shim against libpqxx $pqxx8_version, with clang 16 and libc++ ($pqxx8_build)"
  PKG_CONFIG_PATH="$pqxx8_prefix/lib/pkgconfig" cmake -S . -B "$pqxx8_build" \
    -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 \
    "-DCMAKE_CXX_FLAGS=-stdlib=libc++ -fexperimental-library" \
    -DCMAKE_EXE_LINKER_FLAGS=-stdlib=libc++ -DCMAKE_SHARED_LINKER_FLAGS=-stdlib=libc++ \
    -DDBTRACE_GTEST_SOURCE=/usr/src/googletest -DDBTRACE_BUILD_TESTS=ON -DDBTRACE_WERROR=ON \
    -DDBTRACE_WITH_SOCI=OFF -DDBTRACE_WITH_PQXX=ON -DDBTRACE_WITH_REDIS=OFF -DDBTRACE_WITH_OTLP=OFF \
    "-DDBTRACE_TEST_PQXX_BUILDS=$root/build/deps/libpqxx-$pqxx8_version" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$pqxx8_build" -j"$(nproc)" \
    --target pqxx_tests pqxx_attach_check pqxx_suite_preload dbtrace_cli
  (cd "$pqxx8_build" && ctest --output-on-failure -j2 --timeout 600 \
    -R '^((pqxx_test|libpq_test|postgres_store_test)[.]|pqxx_attach_check$|pqxx_suite/)')
fi
