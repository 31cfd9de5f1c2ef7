#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and installs a SOCI release from its source tarball, for testing the
# shim against SOCI versions Debian does not ship. Prints the install prefix.
#   scripts/soci_from_source.sh VERSION        e.g. 4.1.4: build/deps/soci-VERSION/install
# The tarball soci-VERSION.tar.gz is looked for in $DBTRACE_VENDOR_DIR, then in
# ../shared/vendor beside the checkout, then /work/shared/vendor. Built once;
# a later call prints the prefix at once. Backends: sqlite3, postgresql, mysql.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/progress.sh
. scripts/vendor.sh
version=${1:?usage: $0 VERSION}
base=$PWD/build/deps/soci-$version
prefix=$base/install
if [ -f "$prefix/.installed" ]; then echo "$prefix"; exit 0; fi

unpack_vendored soci_from_source "soci-$version" "$base"
src=$base/soci-$version
build_soci() {
  cmake -S "$src" -B "$base/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_INSTALL_LIBDIR=lib -DSOCI_TESTS=OFF -DSOCI_LTO=OFF -DWITH_BOOST=OFF \
    -DSOCI_SQLITE3=ON -DSOCI_POSTGRESQL=ON -DSOCI_MYSQL=ON -DSOCI_EMPTY=OFF -DSOCI_ODBC=OFF \
    -DSOCI_FIREBIRD=OFF -DSOCI_ORACLE=OFF -DSOCI_DB2=OFF
  cmake --build "$base/build" -j"$(nproc)"
  cmake --install "$base/build"
}
with_progress "soci_from_source: building SOCI $version from $tarball (a few minutes)" \
  "$base/build.log" build_soci
touch "$prefix/.installed"
echo "soci_from_source: SOCI $version installed in $prefix" >&2
echo "$prefix"
