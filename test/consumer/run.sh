#!/usr/bin/env bash
# troupe — builds and runs programs against an installed troupe, as an
# application would: through pkg-config (troupe.pc: the shared library;
# troupe-static.pc: libtroupe.a), through CMake's find_package (the
# troupe::troupe and troupe::troupe_static targets), and from C++ (every
# public header, test/cxx/cxx_check.cpp). Checks that the static programs
# do not load libtroupe.so, and that no dependency's flags (ck's
# -D__x86_64__) reach the consumer.
#
# Usage: test/consumer/run.sh BUILD_DIR   (a configured and built tree;
# `make consumer` runs it). Exits non-zero on the first failure.
set -euo pipefail

# Whether program $1 loads libtroupe.so. ldd's output is read whole first:
# `ldd | grep -q` under pipefail fails at random when grep exits at the
# first match and ldd gets SIGPIPE writing the rest.
loads_libtroupe() {
  local libs
  libs="$(ldd "$1")"
  grep -q 'libtroupe\.so' <<<"$libs"
}
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/troupe-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

step() { printf 'consumer: %s\n' "$*"; }

step "install to $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
pcdir="$(dirname "$(find "$prefix" -name troupe.pc | head -n1)")"
export PKG_CONFIG_PATH="$pcdir"

cflags="$(pkg-config --cflags troupe)"
case "$cflags" in
  *-D__x86_64__*) echo "consumer: pkg-config --cflags troupe leaks ck's flags: $cflags" >&2; exit 1 ;;
esac
case "$(pkg-config --cflags --libs troupe troupe-static)" in
  *..*) echo "consumer: the .pc files print unclean paths" >&2; exit 1 ;;
esac

step "pkg-config, shared: cc consumer.c \$(pkg-config --cflags --libs troupe)"
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/pc_shared" \
  $(pkg-config --cflags --libs troupe) -Wl,-rpath,"$(pkg-config --variable=libdir troupe)"
loads_libtroupe "$work/pc_shared" ||
  { echo "consumer: the shared build does not load libtroupe.so" >&2; exit 1; }
"$work/pc_shared"

step "pkg-config, static: cc consumer.c \$(pkg-config --static --cflags --libs troupe-static)"
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/pc_static" \
  $(pkg-config --static --cflags --libs troupe-static)
if loads_libtroupe "$work/pc_static"; then
  echo "consumer: the static build loads libtroupe.so" >&2; exit 1
fi
"$work/pc_static"

step "CMake find_package(troupe): troupe::troupe and troupe::troupe_static"
cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" > "$work/cmake.log"
cmake --build "$work/cmake" > "$work/cmake-build.log"
if grep -rq -- '-D__x86_64__' "$work/cmake/CMakeFiles/consumer_cmake_static.dir/flags.make"; then
  echo "consumer: find_package(troupe) leaks ck's flags" >&2; exit 1
fi
LD_LIBRARY_PATH="$(pkg-config --variable=libdir troupe)" "$work/cmake/consumer_cmake_shared"
"$work/cmake/consumer_cmake_static"
if loads_libtroupe "$work/cmake/consumer_cmake_static"; then
  echo "consumer: troupe::troupe_static loads libtroupe.so" >&2; exit 1
fi

step "C++17: every installed header, c++ -std=c++17 -Wall -Wextra -Werror"
mkdir -p "$work/cxx"
for h in "$(pkg-config --variable=includedir troupe)"/troupe/*.h; do
  printf '#include <troupe/%s>\n' "$(basename "$h")"
done > "$work/cxx/troupe_all_headers.hpp"
c++ -std=c++17 -Wall -Wextra -Werror -I"$work/cxx" "$src/test/cxx/cxx_check.cpp" \
  -o "$work/cxx_static" $(pkg-config --static --cflags --libs troupe-static)
"$work/cxx_static"
step "all passed"
