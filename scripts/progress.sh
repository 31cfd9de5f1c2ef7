# SPDX-License-Identifier: Apache-2.0
# Sourced by the scripts: a long step's output goes to a log, and the step
# says what it is doing, then how far it is (CMake's "[ NN%]") every 15 s.
#
#   with_progress "building dbtrace (Release)" build/demo/build.log cmake --build build/demo
with_progress() {
  local label=$1 log=$2
  shift 2
  mkdir -p "$(dirname "$log")"
  echo "$label (log: $log)" >&2
  "$@" >"$log" 2>&1 &
  local pid=$! began=$SECONDS next=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
      local done_so_far
      done_so_far=$(grep -o '^\[ *[0-9]*%\]' "$log" | tail -n1 | tr -d '[ ]')
      echo "  ... ${done_so_far:+$done_so_far done, }$((SECONDS - began)) s" >&2
      next=$((SECONDS + 15))
    fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$log" >&2
    echo "failed: $label (see $log)" >&2
    return 1
  fi
}
