#!/bin/sh
# README command 1: sh scripts/quickstart.sh
# Installs the Debian packages that are missing, builds libdbconn in build/
# and runs the quickstart example (examples/quickstart.c).
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh

dbconn_install_deps
dbconn_build
if [ ! -x build/examples/quickstart ]; then
    echo "error: build/examples/quickstart was not built" \
         "(is examples/CMakeLists.txt there?)" >&2
    exit 1
fi
echo "Running build/examples/quickstart"
exec build/examples/quickstart
