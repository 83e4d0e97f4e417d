#!/bin/sh
# ctest's check_layers_selftest:
#   sh selftest.sh <python3> <check-layers.py> <build dir> <src dir> <cc>
#
# Shows that scripts/check-layers.py fails when the layering is broken: on
# a copy of src/ and of the library's objects it plants, one at a time, an
# upward call with its include, an upward call through a prototype alone
# (only nm sees it), an upward include alone, and a circle of two util
# files; the checker must pass on the real tree and fail, naming the
# planted file, on each planted one.
set -u
py=$1 checker=$2 build=$3 src=$4 cc=$5
work=$(mktemp -d "${TMPDIR:-/tmp}/dbconn-layers.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0

"$py" "$checker" "$build" --src "$src" >"$work/real.log" 2>&1 || {
    echo "check_layers_selftest: the real tree fails:"; cat "$work/real.log"
    exit 1
}
objdir=$(find "$build" -type d -name dbconn_objects.dir | head -n 1)

# plant <name> <file>=<code> ...: copies, compiles the planted .c files
# into the copied objects, runs the checker and expects it to fail naming
# the first planted file.
plant() {
    name=$1; shift
    rm -rf "$work/src" "$work/build"
    cp -R "$src" "$work/src"
    mkdir -p "$work/build/CMakeFiles"
    cp -R "$objdir" "$work/build/CMakeFiles/"
    first=
    for spec in "$@"; do
        file=${spec%%=*}
        printf '%s\n' "${spec#*=}" >"$work/src/$file"
        [ -n "$first" ] || first=$file
        case $file in
        *.c)
            mkdir -p "$work/build/CMakeFiles/dbconn_objects.dir/src/$(dirname "$file")"
            "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -c -I "$src/../include" -I "$work/src" \
                "$work/src/$file" \
                -o "$work/build/CMakeFiles/dbconn_objects.dir/src/$file.o" ||
                { echo "$name: cannot compile $file"; failed=1; return; }
            ;;
        esac
    done
    if "$py" "$checker" "$work/build" --src "$work/src" >"$work/$name.log" 2>&1
    then
        echo "check_layers_selftest: $name: the checker passed a broken tree"
        failed=1
    elif ! grep -q "${first%.*}" "$work/$name.log"; then
        echo "check_layers_selftest: $name: the failure does not name $first:"
        cat "$work/$name.log"
        failed=1
    else
        echo "check_layers_selftest: $name: refused, as it must be:"
        sed 's/^/    /' "$work/$name.log"
    fi
}

plant upward_call 'util/planted.c=#include "session/session.h"
int dbc_planted(dbconn_session *s);
int dbc_planted(dbconn_session *s) { return dbc_session_fail(s, -1); }'

plant upward_call_no_include 'util/planted.c=int dbc_session_fail(void *s, int code);
int dbc_planted(void *s);
int dbc_planted(void *s) { return dbc_session_fail(s, -1); }'

plant upward_include 'engine/planted.h=#include "async/state.h"'

plant circle 'util/planted_a.c=int dbc_planted_b(int x);
int dbc_planted_a(int x);
int dbc_planted_a(int x) { return x ? dbc_planted_b(x - 1) : 0; }' \
    'util/planted_b.c=int dbc_planted_a(int x);
int dbc_planted_b(int x);
int dbc_planted_b(int x) { return x ? dbc_planted_a(x - 1) : 1; }'

exit "$failed"
