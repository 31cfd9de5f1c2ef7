#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fault soak (not part of CI): for the Redis store, then the PostgreSQL
# store, 4 threads record a SOCI workload at a fixed rate for N minutes while
# the store's server (a throwaway one on loopback) is killed, restarted,
# paused and resumed on a schedule. bench/soak.cpp prints, every second, RSS,
# the counters and the slowest statement; at the end the totals, and it fails
# on an application error or when exported + dropped != recorded.
#
#   scripts/soak.sh [--minutes=N] [--rate=R]   N minutes per store (default 2),
#                                              R statements/s per thread (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/progress.sh
minutes=2 rate=5000 threads=4
for arg in "$@"; do
  case "$arg" in
    --minutes=*) minutes=${arg#--minutes=} ;;
    --rate=*) rate=${arg#--rate=} ;;
    *) echo "usage: $0 [--minutes=N] [--rate=R]" >&2; exit 2 ;;
  esac
done
seconds=$((minutes * 60))

scripts/deps.sh test
build=build/soak
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBTRACE_BUILD_BENCH=ON \
  -DDBTRACE_WITH_SOCI=ON -DDBTRACE_WITH_PQXX=ON -DDBTRACE_WITH_REDIS=ON >/dev/null
with_progress "building the soak program (a few minutes the first time)" "$build/build.log" \
  cmake --build "$build" -j"$(nproc)" --target soak

work=$(mktemp -d /tmp/dbtrace-soak.XXXXXX)
chmod 755 "$work"
trap '"$root/scripts/redis_server.sh" stop "$work/redis" || true; "$root/scripts/pg_server.sh" stop "$work/pg" || true' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The store's server script and directory: start, pause, resume, pids.
server() {
  case "$1" in
    redis) scripts/redis_server.sh "$2" "$work/redis" "${@:3}" ;;
    postgres) scripts/pg_server.sh "$2" "$work/pg" "${@:3}" ;;
  esac
}
say() { printf '%s soak: %s\n' "$(date +%T)" "$*"; }

failed=0
for store in redis postgres; do
  port=$(free_port)
  server "$store" start "$port"
  case "$store" in
    redis) cs="redis://127.0.0.1:$port/0" ;;
    postgres) cs="postgresql://app:app-secret@127.0.0.1:$port/app" ;;
  esac
  say "$store: $threads threads x $rate statements/s for $seconds s; the server is killed, restarted, paused and resumed twice"
  "$build/bench/soak" "$cs" "$threads" "$rate" "$seconds" &
  soak=$!
  # Twice per run: kill -9 at 10 %, restart at 20 %, SIGSTOP at 30 %, SIGCONT at 40 %.
  for round in 0 1; do
    base=$((round * seconds / 2))
    sleep $((base + seconds / 10 - ${elapsed:-0})); elapsed=$((base + seconds / 10))
    say "$store: kill -9"; kill -KILL $(server "$store" pids) 2>/dev/null || true
    sleep $((seconds / 10)); elapsed=$((elapsed + seconds / 10))
    say "$store: restart"; server "$store" start "$port" >/dev/null
    sleep $((seconds / 10)); elapsed=$((elapsed + seconds / 10))
    say "$store: SIGSTOP"; server "$store" pause
    sleep $((seconds / 10)); elapsed=$((elapsed + seconds / 10))
    say "$store: SIGCONT"; server "$store" resume
  done
  elapsed=0
  wait "$soak" || failed=1
  case "$store" in
    redis) scripts/redis_server.sh stop "$work/redis" ;;
    postgres) scripts/pg_server.sh stop "$work/pg" ;;
  esac
done
exit $failed
