#!/bin/sh
# Client-side instruction counts of bench_pg's workloads, libdbconn against
# raw libpq: valgrind --tool=callgrind counting only the timed function of
# each side (run_raw / run_lib, and everything they call: libpq, libc, the
# kernel entry stubs -- not the server, which runs natively).
# Deterministic on a noisy machine, unlike the wall-clock figures.
#   usage: bench/callgrind_pg.sh <build>/bench/bench_pg SERVER_DIR [N]
#   (SERVER_DIR: a cluster of scripts/pg-test-server.sh start)
set -eu
bin=${1:?usage: bench/callgrind_pg.sh path/to/bench_pg SERVER_DIR [N]}
server=${2:?usage: bench/callgrind_pg.sh path/to/bench_pg SERVER_DIR [N]}
n=${3:-5000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # side workload medium
    fn=run_$1
    [ "$1" = bin ] && fn=run_raw
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        --toggle-collect="$fn" "$bin" --server "$server" --only "$1" "$2" \
        "$3" --n "$n" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-9s %-5s %14s %14s %7s\n' workload media raw_Ir dbconn_Ir ratio
for medium in unix tcp; do
    for w in insert select txselect; do
        raw=$(count raw "$w" "$medium")
        lib=$(count lib "$w" "$medium")
        awk -v w="$w" -v m="$medium" -v r="$raw" -v l="$lib" \
            'BEGIN { printf "%-9s %-5s %14d %14d %6.3fx\n", w, m, r, l, l / r }'
    done
done
# The result format: raw libpq reading text against binary results.
for medium in unix tcp; do
    text=$(count raw txselect "$medium")
    binary=$(count bin txselect "$medium")
    awk -v m="$medium" -v r="$text" -v l="$binary" \
        'BEGIN { printf "%-9s %-5s %14d %14d %6.3fx  (text / binary results)\n", "format", m, r, l, l / r }'
done
