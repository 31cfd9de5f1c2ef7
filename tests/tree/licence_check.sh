#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file in the tree says its licence (Apache-2.0, as LICENSE): a
# file added without the SPDX line fails, named.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f LICENSE ] && grep -q "Apache License" LICENSE || { echo "LICENSE: not the Apache License" >&2; exit 1; }
missing=0
while IFS= read -r f; do
  case "$f" in
    */corpus/*) continue ;;
    *.cpp | *.hpp | *.js | *.sh | *.py | *.cmake | *.in | *.supp | *.sql | *.html | */CMakeLists.txt | CMakeLists.txt | .ci/run) ;;
    *) continue ;;
  esac
  # The identifier within the first two lines (after a #! or a doctype).
  head -n 2 "$f" | grep -q "SPDX-License-Identifier: Apache-2.0" || { echo "no SPDX line: $f" >&2; missing=1; }
done < <(git ls-files 2>/dev/null || find . -type f -not -path './build/*' -not -path './.git/*' | sed 's|^\./||')
exit "$missing"
