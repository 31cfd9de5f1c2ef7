#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages dbtrace needs for a purpose: `build` (the
# library, CLI and examples), `test` (also tests, benchmarks and the Python
# OSProfiler peer) or `fuzz` (the libFuzzer harnesses). As root it runs apt-get; otherwise it prints the command
# to run and fails.
set -euo pipefail

build_packages=(cmake g++ make pkg-config libsqlite3-dev nlohmann-json3-dev libinih-dev
  libcli11-dev libssl-dev libconcurrentqueue-dev)
# The shims and stores; SOCI's Debian headers include Boost, libpq-fe.h and mysql.h
# without depending on them.
library_packages=(libsoci-dev libboost-dev libpq-dev libmariadb-dev libpqxx-dev libhiredis-dev libcurl4-openssl-dev
  zlib1g-dev)
test_packages=(libgtest-dev libgmock-dev libbenchmark-dev sqlite3 postgresql redis-server mariadb-server python3
  python3-osprofiler python3-sqlalchemy python3-psycopg2 python3-redis
  # The viewer's browser test and the DOT test.
  chromium chromium-driver python3-selenium graphviz
  # SOCI 4.1 built from source (scripts/soci_from_source.sh) uses the system fmt.
  libfmt-dev
  # The OTLP TLS test makes its certificates.
  openssl
  # The manual (docs/) is built as a site, strictly, by a test.
  mkdocs
  # bench/instructions.sh counts instructions with callgrind.
  valgrind
  # A test links libpq statically: libpq.a's own static dependencies.
  postgresql-server-dev-15 libkrb5-dev libldap-dev
  # libpqxx 8 needs C++20's <format>, which GCC 12 lacks (scripts/pqxx_from_source.sh).
  clang-16 libc++-16-dev libc++abi-16-dev)

# The fuzzers: clang and its libFuzzer runtime.
fuzz_packages=(clang libclang-rt-14-dev)

case "${1:-build}" in
  build) wanted=("${build_packages[@]}" "${library_packages[@]}") ;;
  test) wanted=("${build_packages[@]}" "${library_packages[@]}" "${test_packages[@]}") ;;
  fuzz) wanted=("${build_packages[@]}" "${fuzz_packages[@]}") ;;
  *) echo "usage: $0 build|test|fuzz" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The OTLP test decodes requests with the official protobuf definitions from
# npm; Node.js and npm from Debian unless the machine already has them.
if [ "${1:-build}" = test ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "dbtrace needs these Debian packages; run as root:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
. "$(dirname "$0")/progress.sh"
install_missing() {
  apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }
}
with_progress "deps.sh: installing ${missing[*]}" "$(mktemp /tmp/dbtrace-apt.XXXXXX.log)" install_missing
