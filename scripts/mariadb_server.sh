#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway MariaDB server for tests, on 127.0.0.1 with its own port and
# data directory, stopped by PID.
#   scripts/mariadb_server.sh start DIR PORT   install (once) and start; user app / app-secret
#                                              owning database app (root: socket only)
#   scripts/mariadb_server.sh stop DIR         stop the server started in DIR (its PID file)
set -euo pipefail
cmd=$1 dir=$2
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] ||
  { echo "mariadb_server: mariadbd not found (apt-get install mariadb-server)" >&2; exit 1; }
export PATH=$PATH:/usr/sbin
# The server refuses to run as root: as root it runs as Debian's mysql user.
as_user=()
[ "$(id -u)" -eq 0 ] && as_user=(--user=mysql)

case "$cmd" in
  start)
    port=$3
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown mysql "$dir"
    if [ ! -d "$dir/data/mysql" ]; then
      mariadb-install-db --no-defaults --datadir="$dir/data" "${as_user[@]}" --skip-test-db \
        --auth-root-authentication-method=socket >"$dir/install.log" 2>&1
    fi
    # (no log-bin, no fsync: a test server)
    mariadbd --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
      --socket="$dir/mariadb.sock" --pid-file="$dir/mariadb.pid" "${as_user[@]}" \
      --log-error="$dir/server.log" --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
      --innodb-buffer-pool-size=32M --innodb-log-file-size=16M >/dev/null 2>&1 &
    client=(mariadb --no-defaults --socket="$dir/mariadb.sock" -uroot)
    for _ in $(seq 600); do
      "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
      kill -0 $! 2>/dev/null || { echo "mariadb_server: the server exited (see $dir/server.log)" >&2; exit 1; }
      sleep 0.1
    done
    "${client[@]}" -e "CREATE DATABASE IF NOT EXISTS app;
      CREATE USER IF NOT EXISTS 'app'@'127.0.0.1' IDENTIFIED BY 'app-secret';
      GRANT ALL ON app.* TO 'app'@'127.0.0.1';"
    ;;
  stop)
    pidfile="$dir/mariadb.pid"
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
