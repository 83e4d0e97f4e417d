#!/usr/bin/env bash
# Static analysis of libdbconn:  bash scripts/static-analysis.sh
#
#   1. cppcheck on src/ (warning, performance and portability checks;
#      inline suppressions allowed, each with its reason next to it);
#   2. clang-tidy on every src/**/*.c with the checks of .clang-tidy, using the
#      compile commands of a configure in build-tidy/
#      (CMAKE_EXPORT_COMPILE_COMMANDS=ON; nothing is compiled).
#
# Both always run; the script exits non-zero if either reports anything
# (every clang-tidy warning is an error).  Needs the Debian packages cppcheck
# clang clang-tidy cmake pkg-config libsqlite3-dev libuv1-dev.  Run from
# anywhere.  DBCONN_TIDY_JOBS sets the clang-tidy parallelism (default: the
# number of CPUs).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS=${DBCONN_TIDY_JOBS:-$(nproc 2>/dev/null || echo 1)}
BUILD=build-tidy
FAILED=0

for tool in cppcheck clang clang-tidy cmake; do
    if ! command -v "$tool" >/dev/null; then
        echo "static-analysis.sh: $tool not found: install the Debian" \
             "packages cppcheck clang clang-tidy cmake" >&2
        exit 1
    fi
done

# --- cppcheck -----------------------------------------------------------------
echo "=== cppcheck $(cppcheck --version | sed 's/^Cppcheck //')"
suppressions=()
if [ -f .cppcheck-suppressions ]; then
    suppressions=(--suppressions-list=.cppcheck-suppressions)
fi
if cppcheck --enable=warning,performance,portability --error-exitcode=1 \
        --inline-suppr "${suppressions[@]}" --std=c11 --library=posix \
        -I include -I src -j "$JOBS" --quiet \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
        src/; then
    echo "cppcheck: no findings"
else
    echo "cppcheck: FAILED (findings above)"
    FAILED=1
fi

# --- clang-tidy ---------------------------------------------------------------
# One run at a time per build directory (a concurrent configure of the same
# directory can fail).
mkdir -p "$BUILD"
if command -v flock >/dev/null; then
    exec 9>"$BUILD/.tidy.lock"
    flock -n 9 || {
        echo "static-analysis.sh: another run is using $BUILD; waiting for it"
        flock 9
    }
fi
echo "=== $(clang-tidy --version | sed -n 's/^ *\(.*LLVM version.*\)/\1/p')"
# Only the compile commands are needed: no tests, examples or benchmarks
# (so CMocka is not required), and no build.
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DBUILD_TESTING=OFF \
    -DDBCONN_BUILD_EXAMPLES=OFF -DDBCONN_BUILD_BENCH=OFF >/dev/null
# One clang-tidy per file, JOBS at a time; xargs exits non-zero if any did.
# A file's diagnostics are printed together, when its run ends.
if find src -name "*.c" | sort | xargs -P "$JOBS" -n 1 \
        clang-tidy -p "$BUILD" --quiet --warnings-as-errors='*'; then
    echo "clang-tidy: no findings"
else
    echo "clang-tidy: FAILED (findings above)"
    FAILED=1
fi

if [ "$FAILED" -ne 0 ]; then
    echo "static-analysis.sh: FAILED"
    exit 1
fi
echo "static-analysis.sh: no findings"
