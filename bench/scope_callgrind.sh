#!/bin/sh
# Proves that a scoped-registry lookup is O(1): counts the instructions of
# M lookups (callgrind, only inside scope_lookups()) with 1000 and with
# 100000 live scopes, prints instructions per lookup and their ratio, and
# fails when the ratio is 2 or more.
#
# usage: bench/scope_callgrind.sh [path/to/scope_lookup] [M]
#   default binary: build/bench/scope_lookup (build it first, preferably
#   with -DCMAKE_BUILD_TYPE=Release: the ratio holds in Debug too).
set -eu

bin=${1:-build/bench/scope_lookup}
m=${2:-200000}
if [ ! -x "$bin" ]; then
    echo "scope_callgrind: $bin is not an executable (build the bench first)" >&2
    exit 2
fi
command -v valgrind >/dev/null 2>&1 || {
    echo "scope_callgrind: valgrind not found (Debian package valgrind)" >&2
    exit 2
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions counted inside scope_lookups() for N live scopes.
count() {
    valgrind --tool=callgrind --toggle-collect=scope_lookups \
        --callgrind-out-file="$tmp/out.$1" "$bin" "$1" "$m" \
        >"$tmp/stdout.$1" 2>"$tmp/stderr.$1" || {
        cat "$tmp/stderr.$1" >&2
        exit 1
    }
    # "summary:" (or "totals:") holds the collected Ir.
    awk '/^(summary|totals):/ { print $2; exit }' "$tmp/out.$1"
}

small=$(count 1000)
large=$(count 100000)
awk -v s="$small" -v l="$large" -v m="$m" 'BEGIN {
    ps = s / m; pl = l / m; r = pl / ps;
    printf "N=1000:   %.1f instructions per lookup\n", ps;
    printf "N=100000: %.1f instructions per lookup\n", pl;
    printf "ratio:    %.3f (must be < 2)\n", r;
    exit !(r < 2);
}'
