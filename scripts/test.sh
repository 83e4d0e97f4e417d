#!/bin/sh
# README command 2: sh scripts/test.sh
# Installs the Debian packages that are missing, builds libdbconn and its
# tests in build/ and runs every test with ctest.  Exits non-zero if any
# step or test fails.  This is also the gate of .ci/run.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh

dbconn_install_deps
dbconn_build
ctest --test-dir build --output-on-failure -j2
