#!/bin/sh
# Instruction-count ratios (libdbconn / raw SQLite) for bench_record's
# workloads, from valgrind --tool=callgrind counting only the timed function
# of each side (run_raw / run_lib).  Deterministic on a noisy machine.
#   usage: bench/record_callgrind.sh <build>/bench/bench_record [N] [MEDIUM]
set -eu
bin=${1:?usage: bench/record_callgrind.sh path/to/bench_record [N] [memory|file]}
n=${2:-20000}
medium=${3:-memory}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # side workload
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        --toggle-collect="run_$1" "$bin" --only "$1" "$2" "$medium" --n "$n" \
        2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-10s %-7s %14s %14s %7s\n' workload medium raw_Ir dbconn_Ir ratio
for w in get get_tx create create_tx update update_tx bulk bulk_noret query; do
    raw=$(count raw "$w")
    lib=$(count lib "$w")
    awk -v w="$w" -v m="$medium" -v r="$raw" -v l="$lib" \
        'BEGIN { printf "%-10s %-7s %14d %14d %6.3fx\n", w, m, r, l, l / r }'
done
