#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What including each public header costs a translation unit of yours: the
# CPU time (user + system) g++ -std=c++17 -O2 takes to compile a file that
# includes only that header, less the time for an empty file; the median of
# five compiles each. The shims' headers include SOCI's and libpqxx's, which
# a file using them includes anyway: their row shows that library's own cost
# beside dbtrace's.
#
#   bench/headers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-std=c++17 -O2 -c -Icore/include -Ishim/soci/include -Ishim/pqxx/include
  -I/usr/include/postgresql -o "$work/out.o")

# The median CPU seconds of five compiles of $work/tu.cpp.
cpu() {
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f "%U %S" -o "$work/time" g++ "${flags[@]}" "$work/tu.cpp"
    awk '{ printf "%.3f\n", $1 + $2 }' "$work/time"
  done | sort -n | sed -n 3p
}

: > "$work/tu.cpp"
empty=$(cpu)
printf '%-38s %10s %8s\n' "header (CPU s to compile, added)" measured budget
for header in dbtrace/dbtrace.hpp dbtrace/context.hpp dbtrace/value.hpp dbtrace/sql.hpp \
  dbtrace/options.hpp dbtrace/driver.hpp dbtrace/soci.hpp dbtrace/pqxx.hpp \
  soci/soci.h pqxx/pqxx std; do
  if [ "$header" = std ]; then  # what dbtrace.hpp includes of the standard library, alone
    printf '#include <%s>\n' chrono cstdint initializer_list map memory stdexcept string \
      string_view type_traits utility vector > "$work/tu.cpp"
  else
    echo "#include <$header>" > "$work/tu.cpp"
  fi
  added=$(awk -v a="$(cpu)" -v b="$empty" 'BEGIN { printf "%.2f", a - b }')
  budget=
  [ "$header" = dbtrace/dbtrace.hpp ] && whole=$added
  [ "$header" = std ] && standard=$added
  name="<$header>"
  [ "$header" = std ] && name="the standard headers of dbtrace.hpp"
  printf '%-38s %10s %8s\n' "$name" "$added" "$budget"
done
own=$(awk -v a="$whole" -v b="$standard" 'BEGIN { printf "%.2f", a - b }')
verdict=$(awk -v o="$own" 'BEGIN { print (o <= 0.30 ? "within" : "OVER BUDGET") }')
printf '%-38s %10s %8s  %s\n' "dbtrace.hpp less its standard headers" "$own" "<= 0.30" "$verdict"
echo "(an empty file: $empty s; soci/soci.h and pqxx/pqxx: the libraries alone, for scale)"
