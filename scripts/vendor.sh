# SPDX-License-Identifier: Apache-2.0
# Sourced by the scripts that build a library release from its source
# tarball (soci_from_source.sh, pqxx_from_source.sh).
#
#   unpack_vendored soci_from_source soci-4.1.4 build/deps/soci-4.1.4
#
# looks for soci-4.1.4.tar.gz in $DBTRACE_VENDOR_DIR, then in ../shared/vendor
# beside the checkout, then in /work/shared/vendor; empties the directory and
# unpacks the tarball into it (the tree is then build/deps/soci-4.1.4/soci-4.1.4)
# and sets `tarball` to the file it took. Without the tarball it says so, as
# the calling script, and exits.
unpack_vendored() {
  local caller=$1 name=$2 into=$3 dir
  tarball=
  for dir in "${DBTRACE_VENDOR_DIR:-}" "$PWD/../shared/vendor" /work/shared/vendor; do
    [ -n "$dir" ] && [ -f "$dir/$name.tar.gz" ] && { tarball=$dir/$name.tar.gz; break; }
  done
  [ -n "$tarball" ] || {
    echo "$caller: $name.tar.gz not found (set DBTRACE_VENDOR_DIR)" >&2
    exit 1
  }
  rm -rf "$into"
  mkdir -p "$into"
  tar -xzf "$tarball" -C "$into"
}
