#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and installs a libpqxx release from its source tarball, for testing the
# libpqxx shim against libpqxx versions Debian does not ship, and builds that
# release's own test suite (its runner). Prints the install prefix.
#   scripts/pqxx_from_source.sh VERSION   e.g. 7.10.7: build/deps/libpqxx-VERSION/install,
#                                          runner in build/deps/libpqxx-VERSION/build/test/runner
# The tarball libpqxx-VERSION.tar.gz is looked for in $DBTRACE_VENDOR_DIR, then
# in ../shared/vendor beside the checkout, then /work/shared/vendor. Built once;
# a later call prints the prefix at once. Shared libraries, against Debian's libpq.
# libpqxx 8 needs C++20's <format>, which Debian 12's GCC 12 lacks: it is built
# with clang 16 and libc++ (scripts/deps.sh test installs them), and whatever
# uses it must be too (scripts/test.sh's libc++ build, build/test-libpqxx-8).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/progress.sh
. scripts/vendor.sh
version=${1:?usage: $0 VERSION}
base=$PWD/build/deps/libpqxx-$version
prefix=$base/install
if [ -f "$prefix/.installed" ]; then echo "$prefix"; exit 0; fi

unpack_vendored pqxx_from_source "libpqxx-$version" "$base"
src=$base/libpqxx-$version
compiler=()
if [ "${version%%.*}" -ge 8 ]; then
  # libc++ 16 keeps <format> behind -fexperimental-library.
  compiler=(-DCMAKE_CXX_COMPILER=clang++-16 "-DCMAKE_CXX_FLAGS=-stdlib=libc++ -fexperimental-library"
    -DCMAKE_EXE_LINKER_FLAGS=-stdlib=libc++ -DCMAKE_SHARED_LINKER_FLAGS=-stdlib=libc++)
fi
build_pqxx() {
  # No optimisation: it halves the build, which CI waits for, and the tests
  # measure no speed.
  cmake -S "$src" -B "$base/build" -DCMAKE_BUILD_TYPE= -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=ON -DBUILD_DOC=OFF -DBUILD_TEST=ON \
    -DBUILD_EXAMPLES=OFF "${compiler[@]}"
  cmake --build "$base/build" -j"$(nproc)"
  cmake --install "$base/build"
}
with_progress "pqxx_from_source: building libpqxx $version and its tests from $tarball (a few minutes)" \
  "$base/build.log" build_pqxx
touch "$prefix/.installed"
echo "pqxx_from_source: libpqxx $version installed in $prefix" >&2
echo "$prefix"
