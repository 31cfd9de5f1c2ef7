#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A consumer of the SOCI shim on a machine whose only development package is
# libsoci-dev (beside the compiler): every file of the other -dev packages
# dbtrace's own build uses is hidden (an overlay of /usr with whiteouts, in a
# mount namespace of this script's own), then the README's SOCI program is
# configured with find_package(dbtrace COMPONENTS core soci), built and run,
# and built again with pkg-config. Needs root (mount namespaces).
#
#   only_soci_dev.sh PREFIX     dbtrace installed (shared libraries) in PREFIX
set -euo pipefail
prefix=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
hidden="libpqxx-dev libpq-dev libhiredis-dev libcurl4-openssl-dev zlib1g-dev nlohmann-json3-dev
  libssl-dev libsqlite3-dev libinih-dev libmariadb-dev libcli11-dev libconcurrentqueue-dev
  libgtest-dev libgmock-dev libbenchmark-dev"

if [ -z "${DBTRACE_IN_NAMESPACE:-}" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/upper" "$work/work"
  count=0
  for package in $hidden; do
    dpkg-query -W "$package" > /dev/null 2>&1 || continue
    while read -r path; do
      path=${path#/usr}
      path=/${path#/}
      [ -e "/usr$path" ] && [ ! -d "/usr$path" ] || continue
      mkdir -p "$work/upper$(dirname "$path")"
      mknod "$work/upper$path" c 0 0
      count=$((count + 1))
    done < <(dpkg -L "$package" | grep -E '^/(usr/)?(lib|include|share)/')
  done
  echo "only_soci_dev: $count files of the other -dev packages hidden"
  DBTRACE_IN_NAMESPACE=$work exec unshare --mount --propagation private "$0" "$prefix"
fi

work=$DBTRACE_IN_NAMESPACE
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$work/upper,workdir=$work/work" /usr
for header in pqxx/pqxx hiredis/hiredis.h nlohmann/json.hpp sqlite3.h openssl/hmac.h libpq-fe.h; do
  if echo "#include <$header>" | g++ -xc++ -fsyntax-only -I/usr/include/postgresql - 2> /dev/null; then
    echo "only_soci_dev: <$header> still visible" >&2; exit 1
  fi
done

block() {  # the README's fenced block after <!-- readme-test: NAME -->
  python3 -c '
import re, sys
text = open(sys.argv[1]).read()
sys.stdout.write(re.search(r"<!-- readme-test: " + re.escape(sys.argv[2]) + r" -->\n```[a-z]*\n(.*?)```", text, re.S).group(1))' \
    "$source_dir/README.md" "$1"
}
mkdir "$work/app"
block CMakeLists.txt > "$work/app/CMakeLists.txt"
block main.cpp > "$work/app/main.cpp"
cmake -S "$work/app" -B "$work/app/build" -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log"; echo "only_soci_dev: find_package(dbtrace COMPONENTS core soci) failed"; exit 1; }
cmake --build "$work/app/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
[ "$(cd "$work/app" && ./build/app 2> /dev/null)" = 42 ]

export PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name dbtrace-soci.pc)")
# shellcheck disable=SC2046
g++ -std=c++17 "$work/app/main.cpp" -o "$work/app/app-pc" $(pkg-config --cflags --libs dbtrace-soci) \
  "-Wl,-rpath,$(pkg-config --variable=libdir dbtrace-core)"
[ "$(cd "$work/app" && ./app-pc 2> /dev/null)" = 42 ]
echo "only_soci_dev: the SOCI program configures, builds and runs with libsoci-dev alone (CMake and pkg-config)"
