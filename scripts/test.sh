#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds with warnings as
# errors, starts throwaway PostgreSQL and Redis servers on loopback, runs
# every test with ctest, stops the servers. Under CI=true a missing server or peer fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/deps.sh test
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBTRACE_BUILD_TESTS=ON \
  -DDBTRACE_BUILD_BENCH=ON -DDBTRACE_WERROR=ON -DDBTRACE_WITH_SOCI=ON -DDBTRACE_WITH_PQXX=ON -DDBTRACE_WITH_REDIS=ON -DDBTRACE_WITH_OTLP=ON >/dev/null
cmake --build build/test -j"$(nproc)"
# The official OTLP definitions for the OTLP test, pinned by package-lock.json.
[ -d tests/otlp/node_modules/@opentelemetry/otlp-transformer ] ||
  (cd tests/otlp && npm ci --silent --no-audit --no-fund >/dev/null)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
servers=$(mktemp -d /tmp/dbtrace-servers.XXXXXX)
chmod 755 "$servers"
cleanup() {
  "$root/scripts/pg_server.sh" stop "$servers/pg" || true
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

redis_port=$(free_port)
if scripts/redis_server.sh start "$servers/redis" "$redis_port"; then
  export DBTRACE_TEST_REDIS="redis://127.0.0.1:$redis_port/0"
elif [ "${CI:-}" = true ]; then
  echo "test.sh: could not start Redis (see $servers/redis/redis.log)" >&2
  exit 1
fi

cd build/test && ctest --output-on-failure -j2 --timeout 300
