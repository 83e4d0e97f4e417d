#!/usr/bin/env bash
# Fuzzes libdbconn with libFuzzer:  bash scripts/fuzz.sh [seconds]
#
# Builds every tests/fuzz/fuzz_<name>.c in build-fuzz/ (clang, DBCONN_FUZZ=ON,
# AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer, the library
# instrumented for coverage), then runs each target for <seconds> (default
# 60) with -max_total_time, starting from a temporary copy of its seed corpus
# tests/fuzz/corpus/<name>/ -- the repository's corpus is never written to.
# Targets run in parallel, DBCONN_FUZZ_JOBS at a time (default: the number
# of CPUs).  Exits non-zero if a target crashes, leaks, hangs (-timeout),
# violates a property (abort) or a sanitizer reports anything; the failing
# input is saved in build-fuzz/fuzz-out/<target>/ with the command to replay
# it.  The grown corpus of each target is left in
# build-fuzz/fuzz-out/<target>/corpus/ (docs/fuzzing.md: merging it).
#
# Needs the Debian packages clang libclang-rt-14-dev cmake pkg-config
# libsqlite3-dev libuv1-dev.  Run from anywhere; works in the repository
# root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_TARGET=${1:-60}
if ! [[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash scripts/fuzz.sh [seconds per target, default 60]" >&2
    exit 2
fi
BUILD=build-fuzz
JOBS=${DBCONN_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
CC_FUZZ=${DBCONN_FUZZ_CC:-clang}

if ! command -v "$CC_FUZZ" >/dev/null; then
    echo "fuzz.sh: $CC_FUZZ not found: install the Debian packages clang" \
         "libclang-rt-14-dev" >&2
    exit 1
fi

# One run at a time per build directory: two runs would rebuild and clear
# each other's output under their feet.
mkdir -p "$BUILD"
if command -v flock >/dev/null; then
    exec 9>"$BUILD/.fuzz.lock"
    flock -n 9 || {
        echo "fuzz.sh: another fuzz.sh run is using $BUILD; waiting for it"
        flock 9
    }
fi

# -O1: fast enough to fuzz, still easy to debug; Debug keeps assert() on.
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER="$CC_FUZZ" \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 \
    -DDBCONN_FUZZ=ON -DDBCONN_SANITIZE=address,undefined \
    -DBUILD_TESTING=OFF -DDBCONN_BUILD_EXAMPLES=OFF \
    -DDBCONN_BUILD_BENCH=OFF

TARGETS=()
for src in tests/fuzz/fuzz_*.c; do
    TARGETS+=("$(basename "$src" .c)")
done
cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dbconn-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT=$BUILD/fuzz-out

# Runs one target; writes its exit status to $WORK/<target>.rc and its
# libFuzzer output to $OUT/<target>/fuzz.log.
fuzz_one() {
    local name=$1 corpus=${1#fuzz_} dir=$OUT/$1 rc=0
    local bin=$BUILD/tests/fuzz/$name
    local args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10
                -rss_limit_mb=2048 -print_final_stats=1
                -artifact_prefix="$dir/")
    rm -rf "${dir:?}" "${WORK:?}/${name:?}"
    mkdir -p "$dir" "$WORK/$name"
    if [ -d "tests/fuzz/corpus/$corpus" ]; then
        cp -R "tests/fuzz/corpus/$corpus/." "$WORK/$name/"
    fi
    if [ -f "tests/fuzz/$corpus.dict" ]; then
        args+=(-dict="tests/fuzz/$corpus.dict")
    fi
    ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" "${args[@]}" "$WORK/$name" >"$dir/fuzz.log" 2>&1 || rc=$?
    # libFuzzer exits non-zero on every finding; the grep is a second net
    # for a sanitizer report that did not stop the process.
    if [ "$rc" -eq 0 ] && grep -Eq 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:|==ERROR: libFuzzer' "$dir/fuzz.log"; then
        rc=99
    fi
    mv "$WORK/$name" "$dir/corpus"
    echo "$rc" >"$WORK/$name.rc"
}

echo "fuzz.sh: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET}s each, $JOBS at a time"
running=0
for name in "${TARGETS[@]}"; do
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    fuzz_one "$name" &
    running=$((running + 1))
done
wait

FAILED=0
for name in "${TARGETS[@]}"; do
    dir=$OUT/$name
    rc=$(cat "$WORK/$name.rc" 2>/dev/null || echo 98)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log")
    added=$(sed -n 's/^stat::new_units_added: *//p' "$dir/fuzz.log")
    if [ "$rc" -eq 0 ]; then
        echo "fuzz.sh: $name passed: ${runs:-?} executions (${speed:-?}/s)," \
             "${added:-?} new corpus units"
        continue
    fi
    FAILED=1
    echo "fuzz.sh: $name FAILED (exit $rc); last lines of $dir/fuzz.log:"
    tail -n 60 "$dir/fuzz.log" | sed 's/^/    /'
    for input in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
                 "$dir"/slow-unit-*; do
        [ -e "$input" ] || continue
        echo "fuzz.sh: failing input: $input"
        echo "fuzz.sh: replay with: $BUILD/tests/fuzz/$name $input"
    done
done
[ "$FAILED" -eq 0 ] || { echo "fuzz.sh: FAILED"; exit 1; }
echo "fuzz.sh: all targets passed"
