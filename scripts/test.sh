#!/bin/sh
# README command 2: sh scripts/test.sh
# Installs the Debian packages that are missing, builds libdbconn and its
# tests in build/ and runs every test with ctest.  Exits non-zero if any
# step or test fails.  This is also the gate of .ci/run.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh

# The PostgreSQL driver's library and a server for its tests (ctest starts
# a throwaway cluster; without a server those tests skip).
DBCONN_DEBIAN_PACKAGES="$DBCONN_DEBIAN_PACKAGES libpq-dev postgresql"
dbconn_install_deps
dbconn_build
ctest --test-dir build --output-on-failure -j2
