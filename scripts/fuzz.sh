#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The libFuzzer harnesses (tests/fuzz): builds them with clang, ASan and UBSan
# (the library instrumented for coverage), then runs each from its committed
# seed corpus (tests/fuzz/corpus/<name>) for a number of executions. Any crash,
# sanitizer report or broken property fails the run; the input that did it is
# kept in build/fuzz/artifacts/.
#
#   scripts/fuzz.sh                 every harness, 1,000,000 executions each
#                                   (stored_events 300,000: each of its runs
#                                   renders a trace and costs ~6 of the others;
#                                   config 500,000: a run reads a whole file,
#                                   1M took 330-510 s, the longest of CI;
#                                   statement 400,000: 1M took 223 s)
#   scripts/fuzz.sh --runs=N [name] fewer or more, one harness or several
set -euo pipefail
cd "$(dirname "$0")/.."

runs=
names=()
for arg in "$@"; do
  case "$arg" in
    --runs=*) runs=${arg#--runs=} ;;
    -*) echo "usage: $0 [--runs=N] [name...]" >&2; exit 2 ;;
    *) names+=("$arg") ;;
  esac
done
[ ${#names[@]} -gt 0 ] ||
  names=(stored_events config connection_string statement signed_context traceparent)

scripts/deps.sh fuzz
build=build/fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDBTRACE_BUILD_FUZZERS=ON -DDBTRACE_BUILD_CLI=OFF -DDBTRACE_WERROR=ON -DBUILD_SHARED_LIBS=OFF \
  -DDBTRACE_WITH_SOCI=OFF -DDBTRACE_WITH_PQXX=OFF -DDBTRACE_WITH_REDIS=OFF -DDBTRACE_WITH_OTLP=OFF \
  "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer" \
  >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${names[@]/#/fuzz_}"

mkdir -p "$build/artifacts"
# malloc_context_size: short allocation stacks, a third faster; a report still
# names the faulting line.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:malloc_context_size=4
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# One harness: from its seeds, `runs` executions; prints one line, or the end
# of its log and fails.
fuzz_one() {
  local name=$1 seeds=tests/fuzz/corpus/$1 work=$build/corpus/$1 start max_len
  # Inputs as long as the real ones get: past that, longer inputs only add
  # features without coverage, and slow every run down. (stored_events: a few
  # events or a small report; its runs set the length of CI, so its seeds are
  # kept under 1 KiB, and longer ones are read cut.)
  case "$name" in
    connection_string | traceparent | signed_context) max_len=512 ;;
    stored_events) max_len=1024 ;;
    *) max_len=4096 ;;
  esac
  [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; return 1; }
  mkdir -p "$work"  # new inputs go here; the committed seeds are only read
  start=$(date +%s)
  # -entropic=0: the default scheduler's bookkeeping took a third of the time
  # with nlohmann's many instantiations.
  local n=$runs
  if [ -z "$n" ]; then
    case "$name" in
      stored_events) n=300000 ;;
      config) n=500000 ;;
      statement) n=400000 ;;  # 1M took 223 s, the longest harness: CI stays under 45 min
      *) n=1000000 ;;
    esac
  fi
  if ! "$build/tests/fuzz/fuzz_$name" -runs="$n" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 \
      -entropic=0 -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" "$work" "$seeds" \
      >"$build/$name.log" 2>&1; then
    tail -n 40 "$build/$name.log" >&2
    echo "fuzz: $name failed; the input is in $build/artifacts/" >&2
    touch "$build/failed-$name"
    return 1
  fi
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$name.log")
  echo "fuzz: $name: ${execs:-?} executions, no crash ($(( $(date +%s) - start )) s)"
}

# As many at a time as there are cores, the slowest first; a harness that
# fails leaves build/fuzz/failed-<name>.
rm -f "$build"/failed-*
for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  fuzz_one "$name" &
done
wait
if ls "$build"/failed-* >/dev/null 2>&1; then exit 1; fi
