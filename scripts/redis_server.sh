#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway Redis server for tests on 127.0.0.1, stopped by PID.
#   scripts/redis_server.sh start DIR PORT | stop DIR | pause DIR | resume DIR | pids DIR
set -euo pipefail
cmd=$1 dir=$2
case "$cmd" in
  start)
    port=$3
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no >/dev/null
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && exit 0; sleep 0.1; done
    echo "redis_server: no answer on port $port (see $dir/redis.log)" >&2
    exit 1
    ;;
  stop)
    [ -f "$dir/redis.pid" ] || exit 0
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    ;;
  pids) cat "$dir/redis.pid" ;;
  pause) kill -STOP "$(cat "$dir/redis.pid")" ;;
  resume) kill -CONT "$(cat "$dir/redis.pid")" ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | pause DIR | resume DIR | pids DIR" >&2; exit 2 ;;
esac
