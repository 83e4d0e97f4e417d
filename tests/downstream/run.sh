#!/bin/sh
# ctest install_downstream: install a built libdbconn into a scratch prefix,
# then build tests/downstream/main.c against that prefix the two ways a user
# would -- pkg-config on a plain cc command line, and find_package(dbconn) --
# each shared and static, and run every program.  Passes only if all four
# build and exit 0 (registered in tests/extra.cmake).
#
# usage: run.sh CMAKE BUILD_DIR WORK_DIR CC [FLAGS]
#   CMAKE      the cmake that configured BUILD_DIR
#   BUILD_DIR  libdbconn's build tree (already built)
#   WORK_DIR   scratch directory, emptied first; the prefix is WORK_DIR/prefix
#   CC         the compiler that built the library (sanitizer runtimes and
#              instrumented objects must be linked by the same one)
#   FLAGS      extra compile+link flags, e.g. the -fsanitize=... the library
#              was built with; split on spaces
set -eu

if [ $# -lt 4 ]; then
    echo "usage: $0 CMAKE BUILD_DIR WORK_DIR CC [FLAGS]" >&2
    exit 2
fi
cmake=$1
build=$2
work=$3
cc=$4
flags=${5-}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix
# Strict ISO C11, no feature-test macros: dbconn.h must compile as it is.
warn="-std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Werror"

step() { printf '\n== install_downstream: %s\n' "$*"; }
die() { printf 'install_downstream: FAILED: %s\n' "$*" >&2; exit 1; }

# Runs a built program and checks which libdbconn it loads: a shared build
# must use the installed library, a static one none at all.
run_program() {
    prog=$1
    kind=$2
    step "run $prog"
    loaded=$(ldd "$prog" | grep 'libdbconn' || true)
    case $kind in
    shared)
        case $loaded in
        *"$prefix"/*) ;;
        *) die "$prog loads '$loaded', not the libdbconn under $prefix" ;;
        esac ;;
    static)
        [ -z "$loaded" ] || die "$prog is static but loads '$loaded'" ;;
    esac
    "$prog" || die "$prog exited with status $?"
}

rm -rf "$work"
mkdir -p "$work"

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix"
[ -f "$prefix/include/dbconn.h" ] || die "include/dbconn.h was not installed"
pc=$(find "$prefix" -path '*/pkgconfig/dbconn.pc' | head -n 1)
[ -n "$pc" ] || die "no pkgconfig/dbconn.pc under $prefix"
# Hidden visibility: the shared library exports the public API only.
so=$(find "$prefix" -name 'libdbconn.so' | head -n 1)
[ -n "$so" ] || die "no libdbconn.so under $prefix"
leaked=$(nm -D --defined-only "$so" | awk 'NF == 3 { print $3 }' |
    grep -v '^dbconn_' || true)
[ -z "$leaked" ] || die "libdbconn.so exports non-API symbols: $leaked"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH

step "pkg-config (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
pkg-config --print-errors --exists dbconn
libdir=$(pkg-config --variable=libdir dbconn)
cflags=$(pkg-config --cflags dbconn)
libs=$(pkg-config --libs dbconn)
# A static link names the archive itself: -ldbconn would pick the .so.
static_libs=
for word in $(pkg-config --static --libs dbconn); do
    [ "$word" = -ldbconn ] && word=$libdir/libdbconn.a
    static_libs="$static_libs $word"
done
printf 'cflags: %s\nlibs: %s\nstatic libs:%s\n' "$cflags" "$libs" "$static_libs"

step "dbconn.h from C++: parses, and declares unmangled (extern \"C\") names"
if command -v c++ >/dev/null 2>&1; then
    # Compiled, not linked, so the C++ runtime need not match the library's
    # sanitizer flags: nm shows what the object file would link against.
    # shellcheck disable=SC2086
    printf '%s\n' '#include <dbconn.h>' \
        'int main() { return dbconn_version() == 0; }' |
        c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror $cflags \
            -x c++ -c - -o "$work/cxx.o"
    nm "$work/cxx.o" | grep -q ' U dbconn_version$' ||
        die "C++ code references a mangled dbconn_version: extern \"C\" missing"
else
    echo "no c++ compiler: skipped"
fi

step "cc + pkg-config, shared"
# shellcheck disable=SC2086 # word splitting of flag lists is intended
"$cc" $warn $flags $cflags "$here/main.c" -o "$work/pc_shared" \
    $libs -Xlinker -rpath -Xlinker "$libdir"
step "cc + pkg-config --static, static"
# shellcheck disable=SC2086
"$cc" $warn $flags $cflags "$here/main.c" -o "$work/pc_static" $static_libs

step "cmake find_package(dbconn) with CMAKE_PREFIX_PATH=$prefix"
"$cmake" -S "$here" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="$flags" \
    -DDBCONN_EXPECTED_PREFIX="$prefix"
"$cmake" --build "$work/cmake-build"

run_program "$work/pc_shared" shared
run_program "$work/pc_static" static
run_program "$work/cmake-build/downstream_shared" shared
run_program "$work/cmake-build/downstream_static" static

step "all four downstream builds passed"
