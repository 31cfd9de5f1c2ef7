#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: build dbtrace, run the example SOCI data layer with tracing into
# the embedded SQLite store, then show one of its traces with the dbtrace command.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/progress.sh
scripts/deps.sh build
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DDBTRACE_BUILD_TESTS=OFF \
  -DDBTRACE_BUILD_BENCH=OFF -DDBTRACE_BUILD_EXAMPLES=ON -DDBTRACE_WITH_SOCI=ON -DDBTRACE_WITH_PQXX=ON -DDBTRACE_WITH_REDIS=ON -DDBTRACE_WITH_OTLP=ON >/dev/null
with_progress "building dbtrace and the example (a few minutes the first time)" \
  build/demo/build.log cmake --build build/demo -j"$(nproc)"

work=build/demo/run
rm -rf "$work" && mkdir -p "$work"
cat > "$work/app.conf" <<CONF
[profiler]
enabled = true
trace_sqlalchemy = true
hmac_keys = SECRET_KEY
# a relative path is taken from this file's directory
connection_string = sqlite:///traces.db
project = demo
service = soci-requests
CONF
build/demo/examples/soci_requests "$work/app.conf" > "$work/ids.txt"
echo "== traces in $work/traces.db"
build/demo/cli/dbtrace --config "$work/app.conf" trace list
echo "== the first one"
first=$(head -n1 "$work/ids.txt")
build/demo/cli/dbtrace --config "$work/app.conf" trace show "$first" --tree
build/demo/cli/dbtrace --config "$work/app.conf" trace show "$first" --html --out "$work/trace.html"
echo "== its page (open it in a browser; it needs no network): $PWD/$work/trace.html"
