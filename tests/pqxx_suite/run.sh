#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libpqxx's own test suite as a drop-in proof: run untraced, then traced
# (libdbtrace_pqxx.so and the suite's preload, one trace around the run), it
# must pass the same way, and the spans recorded must be the statements libpq
# sent, read from libpq's protocol trace of every connection (not from dbtrace).
#   tests/pqxx_suite/run.sh RUNNER LIBDIR
# RUNNER: libpqxx's test/runner, built by scripts/pqxx_from_source.sh;
# LIBDIR: where libdbtrace_pqxx.so and libpqxx_suite_preload.so are.
# The server is $DBTRACE_TEST_PG (key=value pairs), as for the rest of the suite.
set -euo pipefail
runner=$(realpath "$1")
libdir=$(realpath "$2")
: "${DBTRACE_TEST_PG:?tests/pqxx_suite/run.sh needs DBTRACE_TEST_PG (scripts/test.sh sets it)}"
for pair in $DBTRACE_TEST_PG; do
  case "$pair" in
    host=*) export PGHOST=${pair#host=} ;;
    port=*) export PGPORT=${pair#port=} ;;
    dbname=*) export PGDATABASE=${pair#dbname=} ;;
    user=*) export PGUSER=${pair#user=} ;;
    password=*) export PGPASSWORD=${pair#password=} ;;
  esac
done
work=$(mktemp -d /tmp/dbtrace-pqxx-suite.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$(dirname "$runner")"  # the runner reads its data files from beside it

mkdir "$work/protocol"  # one file per connection
set +e
"$runner" > "$work/plain.log" 2>&1
plain_rc=$?
LD_PRELOAD="$libdir/libdbtrace_pqxx.so $libdir/libpqxx_suite_preload.so" \
  DBTRACE_SUITE_SPANS="$work/spans.jsonl" DBTRACE_SUITE_PROTOCOL="$work/protocol" \
  "$runner" > "$work/traced.log" 2>&1
traced_rc=$?
set -e

summary() { grep -E '^(Running: |Ran |FAILED|Test failed|[0-9]+ test\(s\) failed)' "$1" || true; }
if [ "$plain_rc" -ne 0 ]; then
  tail -20 "$work/plain.log"; echo "pqxx_suite: libpqxx's suite fails without dbtrace (rc=$plain_rc)"; exit 1
fi
if [ "$traced_rc" -ne "$plain_rc" ] || ! diff <(summary "$work/plain.log") <(summary "$work/traced.log") > "$work/diff"; then
  head -40 "$work/diff" 2>/dev/null || true
  tail -20 "$work/traced.log"
  echo "pqxx_suite: libpqxx's suite ran differently traced (rc $plain_rc untraced, $traced_rc traced)"
  exit 1
fi
python3 - "$work/spans.jsonl" "$work/protocol" "$(summary "$work/plain.log" | tail -1)" <<'PY'
import collections, json, os, re, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
recorded = [e["info"]["db"]["statement"] for e in spans if e.get("name") == "db-start"]
# libpq 14+ trace messages (F sent, B received; a text may span lines): a
# Query is a statement; so is an Execute, of the statement its Bind named,
# whose text its Parse gave; so is a Parse the server refused (a failed
# prepare is a span of its own). One connection per file.
def statements(text):
    sent, prepared, bound, parsing = [], {}, "", None
    for message in re.split(r"\n(?=[FB]\t\d+\t)", text):
        m = re.match(r"([FB])\t\d+\t(\w+)\t? ?(.*)$", message, re.S)
        if not m:
            continue
        side, kind, rest = m.groups()
        rest = rest.rstrip("\n")
        if side == "B":
            if kind == "ErrorResponse" and parsing is not None:
                sent.append(parsing)
            if kind in ("ErrorResponse", "ParseComplete", "ReadyForQuery"):
                parsing = None
        elif kind == "Query":
            sent.append(rest[1:-1] if rest.startswith('"') and rest.endswith('"') else rest)
        elif kind == "Parse":
            p = re.match(r'"([^"]*)" "(.*)" \d+( \d+)*$', rest, re.S)
            if p:
                prepared[p.group(1)] = p.group(2)
                parsing = p.group(2)
        elif kind == "Bind":
            parsing = None  # a Parse followed by its Execute is that statement
            b = re.match(r'"[^"]*" "([^"]*)"', rest)
            bound = prepared.get(b.group(1), b.group(1)) if b else ""
        elif kind == "Execute":
            sent.append(bound)
    return sent
sent = []
for name in sorted(os.listdir(sys.argv[2])):
    sent += statements(open(os.path.join(sys.argv[2], name), errors="replace").read())
print(f"pqxx_suite: {sys.argv[3]}; libpq sent {len(sent)} statements, dbtrace recorded {len(recorded)} spans")
# The same statements, as many times each (threads interleave their order).
if not sent or collections.Counter(recorded) != collections.Counter(sent):
    only_recorded = collections.Counter(recorded) - collections.Counter(sent)
    only_sent = collections.Counter(sent) - collections.Counter(recorded)
    for text, n in list(only_recorded.items())[:10]:
        print(f"  recorded, not sent ({n}x): {text[:200]}")
    for text, n in list(only_sent.items())[:10]:
        print(f"  sent, not recorded ({n}x): {text[:200]}")
    sys.exit("pqxx_suite: the spans are not the statements libpq sent")
PY
