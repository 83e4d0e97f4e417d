#!/bin/sh
# Instruction-count ratios (libdbconn / raw SQLite) for bench_sync's
# workloads, from valgrind --tool=callgrind counting only the timed function
# of each side (run_raw / run_lib).  Deterministic on a noisy machine.
#   usage: bench/callgrind.sh <build>/bench/bench_sync [N] [--raw-memdb | --plain-memory]...
set -eu
bin=${1:?usage: bench/callgrind.sh path/to/bench_sync [N] [--raw-memdb]}
n=${2:-20000}
shift; [ $# -gt 0 ] && shift; extra="$*"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # side workload medium
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        --toggle-collect="run_$1" "$bin" --only "$1" "$2" "$3" --n "$n" \
        $extra 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-8s %-7s %14s %14s %7s\n' workload medium raw_Ir dbconn_Ir ratio
for medium in memory file; do
    for w in insert select first shorttx autocommit; do
        raw=$(count raw "$w" "$medium")
        lib=$(count lib "$w" "$medium")
        awk -v w="$w" -v m="$medium" -v r="$raw" -v l="$lib" \
            'BEGIN { printf "%-8s %-7s %14d %14d %6.3fx\n", w, m, r, l, l / r }'
    done
done
