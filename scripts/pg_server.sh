#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway PostgreSQL server for tests, on 127.0.0.1 with its own port and
# data directory, stopped by PID.
#   scripts/pg_server.sh start DIR PORT   initdb (once) and start; roles: postgres (trust),
#                                         app / app-secret (password auth) owning database app
#   scripts/pg_server.sh stop DIR         stop the server started in DIR (its PID file)
#   scripts/pg_server.sh pause|resume DIR SIGSTOP / SIGCONT the server and its backends
#   scripts/pg_server.sh pids DIR         the server's PID and its children's
set -euo pipefail
cmd=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bin" ] || { echo "pg_server: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {  # the server refuses to run as root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    port=$3
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 >"$dir/initdb.log" 2>&1
      cat >"$dir/data/pg_hba.conf" <<HBA
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
HBA
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off" start >/dev/null
    psql="psql -X -q -h 127.0.0.1 -p $port -U postgres -d postgres -v ON_ERROR_STOP=1"
    if [ -z "$($psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'app'")" ]; then
      $psql -c "CREATE ROLE app LOGIN PASSWORD 'app-secret'" -c "CREATE DATABASE app OWNER app"
    fi
    ;;
  stop)
    pidfile="$dir/data/postmaster.pid"
    [ -f "$pidfile" ] || exit 0
    pid=$(head -n1 "$pidfile")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    ;;
  pids)
    main=$(head -n1 "$dir/data/postmaster.pid")
    echo "$main" $(pgrep -P "$main" || true)
    ;;
  pause) kill -STOP $("$0" pids "$dir") ;;
  resume) kill -CONT $("$0" pids "$dir") ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | pause DIR | resume DIR | pids DIR" >&2; exit 2 ;;
esac
