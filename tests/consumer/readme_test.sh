#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's install commands, run as written on a clean copy of the source
# (into a scratch prefix instead of /usr/local), then the README's consumer
# example built against the result and run, and every program of the README
# and the manual (docs/) built against it. Then as on a machine without
# libsoci-dev: configure says the SOCI shim is off and why, a required SOCI
# fails naming the package, and find_package(dbtrace COMPONENTS soci) names
# the missing component and the option that builds it; that build is static
# and a consumer of its core links no dbtrace shared library.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The fenced block after `<!-- readme-test: NAME -->` in the README.
block() {
  python3 - "$source_dir/README.md" "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"<!-- readme-test: " + re.escape(sys.argv[2]) + r" -->\n```[a-z]*\n(.*?)```", text, re.S)
if not m:
    sys.exit("README has no block " + sys.argv[2])
sys.stdout.write(m.group(1))
PY
}

mkdir "$work/src"
tar -C "$source_dir" --exclude=./build --exclude=./tests/otlp/node_modules --exclude=./.git -cf - . |
  tar -C "$work/src" -xf -

echo "== the README's install commands"
block install | sed "s#--prefix /usr/local#--prefix $work/prefix#" > "$work/install.sh"
(cd "$work/src" && bash -euo pipefail "$work/install.sh" > "$work/install.log" 2>&1) ||
  { tail -30 "$work/install.log"; exit 1; }
grep -- "-- dbtrace .*: core on, soci shim on" "$work/install.log"

echo "== the README's consumer example"
mkdir "$work/app"
block CMakeLists.txt > "$work/app/CMakeLists.txt"
block main.cpp > "$work/app/main.cpp"
cmake -S "$work/app" -B "$work/app/build" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/app/build" > /dev/null
answer=$(cd "$work/app" && ./build/app 2> "$work/app/stderr")
[ "$answer" = 42 ] || { echo "the example printed '$answer'"; exit 1; }
grep -q "app.conf: cannot open the file; tracing stays off" "$work/app/stderr"

echo "== every program in the README and the manual"
# A fenced cpp block with a main() is a program: each is built against the
# installed package (the libpqxx ones need a server to run, so none is run).
mkdir "$work/programs"
python3 - "$source_dir" "$work/programs" <<'PY'
import glob, os, re, sys
source, out = sys.argv[1], sys.argv[2]
count = 0
for page in [os.path.join(source, "README.md")] + sorted(glob.glob(os.path.join(source, "docs", "*.md"))):
    for block in re.findall(r"```cpp\n(.*?)```", open(page).read(), re.S):
        if "int main(" in block:
            count += 1
            name = os.path.basename(page)[:-3].replace("-", "_").lower() + "_" + str(count)
            open(os.path.join(out, name + ".cpp"), "w").write(block)
if count < 3:
    sys.exit(f"only {count} programs found in README.md and docs/")
PY
cat > "$work/programs/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(documented_programs CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(dbtrace CONFIG REQUIRED COMPONENTS core soci pqxx)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)  # the program's own libpqxx
file(GLOB programs ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
foreach(program IN LISTS programs)
  get_filename_component(name ${program} NAME_WE)
  add_executable(${name} ${program})
  target_link_libraries(${name} PRIVATE dbtrace::soci PkgConfig::PQXX dbtrace::pqxx)
endforeach()
CMAKE
cmake -S "$work/programs" -B "$work/programs/build" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/programs/build" -j"$(nproc)" > "$work/programs/build.log" 2>&1 ||
  { tail -40 "$work/programs/build.log"; echo "a documented program does not compile"; exit 1; }
echo "$(ls "$work/programs"/*.cpp | wc -l) documented programs built: $(cd "$work/programs" && ls *.cpp | tr '\n' ' ')"

echo "== as without libsoci-dev"
if cmake -S "$work/src" -B "$work/required" -DCMAKE_DISABLE_FIND_PACKAGE_SOCI=ON \
  -DDBTRACE_WITH_SOCI=ON > "$work/required.log" 2>&1; then
  echo "DBTRACE_WITH_SOCI=ON without SOCI configured"; exit 1
fi
grep -q "DBTRACE_WITH_SOCI=ON, but SOCI (libsoci-dev) was not found" "$work/required.log"
# Static libraries this time (-DBUILD_SHARED_LIBS=OFF), consumed as well.
cmake -S "$work/src" -B "$work/nosoci" -DCMAKE_BUILD_TYPE=Release -DCMAKE_DISABLE_FIND_PACKAGE_SOCI=ON \
  -DDBTRACE_BUILD_CLI=OFF -DBUILD_SHARED_LIBS=OFF > "$work/nosoci.log"
grep -- "soci shim off (SOCI (libsoci-dev) not found)" "$work/nosoci.log"
cmake --build "$work/nosoci" -j"$(nproc)" > /dev/null
cmake --install "$work/nosoci" --prefix "$work/prefix-nosoci" > /dev/null
if cmake -S "$work/app" -B "$work/app/build-nosoci" -DCMAKE_PREFIX_PATH="$work/prefix-nosoci" \
  > "$work/app/nosoci.log" 2>&1; then
  echo "find_package(dbtrace COMPONENTS soci) succeeded without the SOCI shim"; exit 1
fi
cmake -S "$source_dir/tests/consumer" -B "$work/static-consumer" -DCMAKE_PREFIX_PATH="$work/prefix-nosoci" \
  > /dev/null
cmake --build "$work/static-consumer" > /dev/null
"$work/static-consumer/consumer" "$work/static.jsonl"
if ldd "$work/static-consumer/consumer" | grep -q libdbtrace; then
  echo "the static build's consumer loads a dbtrace shared library" >&2; exit 1
fi
# CMake wraps the message: compare it as one line.
tr -s ' \n' ' ' < "$work/app/nosoci.log" |
  grep -q "dbtrace was built without its 'soci' component: rebuild it with -DDBTRACE_WITH_SOCI=ON" ||
  { cat "$work/app/nosoci.log"; exit 1; }
echo "readme: install, consumer example and a missing component all as documented"
