#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the benchmarks (Release) and prints what tracing costs next to the
# budgets of the design: first in instructions (bench/instructions.sh,
# callgrind: deterministic), then in time. Usage: bench/run.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
build=${1:-build/bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDBTRACE_BUILD_BENCH=ON -DDBTRACE_BUILD_TESTS=OFF \
  -DDBTRACE_WITH_SOCI=ON -DDBTRACE_WITH_PQXX=ON -DDBTRACE_WITH_REDIS=ON -DDBTRACE_WITH_OTLP=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_hot_path bench_exporter bench_soci bench_pqxx \
  bench_whole_cost bench_viewer bench_stats bench_dead_store >/dev/null
bench/instructions.sh "$build"
echo
out=$(mktemp -d)
chmod 755 "$out"
root=$PWD
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
receiver_pid=
trap '"$root/scripts/pg_server.sh" stop "$out/pg" || true; "$root/scripts/redis_server.sh" stop "$out/redis" || true; [ -z "$receiver_pid" ] || kill "$receiver_pid"' EXIT
redis_port=$(free_port)
scripts/redis_server.sh start "$out/redis" "$redis_port"
"$build/bench/bench_hot_path" --benchmark_format=json --benchmark_out="$out/hot_path.json" >/dev/null 2>&1
DBTRACE_BENCH_REDIS="redis://127.0.0.1:$redis_port/0" \
  "$build/bench/bench_exporter" --benchmark_format=json --benchmark_out="$out/exporter.json" >/dev/null 2>&1
# Interleaved repetitions: drift on a shared VM hits traced and raw alike.
"$build/bench/bench_soci" --benchmark_enable_random_interleaving=true --benchmark_format=json \
  --benchmark_out="$out/soci.json" >/dev/null 2>&1
# libpqxx over loopback, against a throwaway server of its own.
port=$(free_port)
scripts/pg_server.sh start "$out/pg" "$port"
DBTRACE_BENCH_PG="host=127.0.0.1 port=$port dbname=app user=app password=app-secret" \
  "$build/bench/bench_pqxx" --benchmark_enable_random_interleaving=true --benchmark_format=json \
  --benchmark_out="$out/pqxx.json" >/dev/null 2>&1
# The whole cost per store (application thread + exporter), with every store's
# server on loopback: Redis and PostgreSQL above, an OTLP receiver that keeps nothing.
otlp_port=$(free_port)
python3 tests/otlp/receiver.py - "$otlp_port" 200 &
receiver_pid=$!
DBTRACE_BENCH_REDIS="redis://127.0.0.1:$redis_port/0" \
  DBTRACE_BENCH_PG_URI="postgresql://app:app-secret@127.0.0.1:$port/app" \
  DBTRACE_BENCH_OTLP="otlp://127.0.0.1:$otlp_port" \
  "$build/bench/bench_whole_cost" --benchmark_format=json --benchmark_out="$out/whole_cost.json" \
  >/dev/null 2>&1
# The HTML viewer: writing the page of a 50,000-span trace, then its first
# render in chromium (headless).
DBTRACE_BENCH_VIEWER_OUT="$out/viewer.html" "$build/bench/bench_viewer" --benchmark_format=json \
  --benchmark_out="$out/viewer.json" >/dev/null 2>&1
# dbtrace stats over an embedded store of a million spans (recorded first, in $out).
DBTRACE_BENCH_STATS_DB="$out/stats.db" "$build/bench/bench_stats" --benchmark_format=json \
  --benchmark_out="$out/stats.json" >/dev/null 2>&1
# A short program's exit when its store refuses connections.
"$build/bench/bench_dead_store" --benchmark_format=json --benchmark_out="$out/dead_store.json" \
  >/dev/null 2>&1
python3 bench/report.py "$out"/*.json
echo "HTML viewer, 50,000 spans, first render and actions in chromium (ms):"
/usr/bin/python3 bench/viewer_render.py "$out/viewer.html"
