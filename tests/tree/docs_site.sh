#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The manual builds as a site with mkdocs in strict mode (a page missing
# from the navigation or a link to a page that does not exist fails); every
# #anchor a page links to exists (mkdocs 1.4 does not check those); every
# relative link in README.md and CHANGES.md names a file of the tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
mkdocs build --strict --site-dir "$site" 2>&1 | { grep -v "^INFO" || true; }
python3 - "$site" <<'PY'
import glob, os, re, sys
site = sys.argv[1]
bad = []
def ids_of(page):
    html = os.path.join(site, "index.html" if page == "index" else os.path.join(page, "index.html"))
    return set(re.findall(r'id="([^"]+)"', open(html).read())) if os.path.exists(html) else set()
for md in sorted(glob.glob("docs/*.md")):
    for target, anchor in re.findall(r"\]\(([\w.-]*\.md)?#([^)\s]+)\)", open(md).read()):
        page = (target or os.path.basename(md))[:-3]
        if anchor not in ids_of(page):
            bad.append(f"{md}: #{anchor} is no heading of {page}.md")
for md in ("README.md", "CHANGES.md"):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", open(md).read()):
        if "://" not in target and not os.path.exists(target):
            bad.append(f"{md}: links to {target}, which does not exist")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
