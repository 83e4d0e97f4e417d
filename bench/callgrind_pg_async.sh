#!/bin/sh
# Client-side instruction ratios (libdbconn / its peer) for bench_pg_async's
# workloads, from valgrind --tool=callgrind counting only the timed function
# of each side (run_lib against run_raw, or run_floor for the tasks): the
# client's whole work -- libdbconn, libpq, libuv, libc -- but not the
# server's.  Deterministic where the wall clock of a shared machine is not.
# Both media run (--only runs unix and tcp): the counts are their sums.
#   usage: sh bench/callgrind_pg_async.sh <build>/bench/bench_pg_async DIR [N] [T] [POLICY]
#   DIR: a cluster of scripts/pg-test-server.sh
set -eu
bin=${1:?usage: bench/callgrind_pg_async.sh path/to/bench_pg_async DIR [N] [T] [loop|threadpool]}
dir=${2:?a server directory of scripts/pg-test-server.sh}
n=${3:-2000}
t=${4:-200}
policy=${5:-loop}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # function workload
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        --toggle-collect="$1" "$bin" --server "$dir" --runs 1 --n "$n" \
        --tasks "$t" --policy "$policy" --only "$2" >/dev/null 2>"$out/log"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/log"
}
printf '%-18s %-10s %14s %14s %8s\n' workload policy peer_Ir dbconn_Ir ratio
for w in insert-awaited select-awaited insert-pipelined tasks; do
    peer=run_raw
    [ "$w" != tasks ] || peer=run_floor
    p=$(count "$peer" "$w")
    l=$(count run_lib "$w")
    awk -v w="$w" -v pol="$policy" -v p="$p" -v l="$l" \
        'BEGIN { printf "%-18s %-10s %14d %14d %7.3fx\n", w, pol, p, l, l / p }'
done
