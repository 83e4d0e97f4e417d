#!/bin/sh
# Runs an example program against the ctest fixture's PostgreSQL server, in
# a schema of its own (the examples run in parallel with the test suites):
#
#   sh scripts/pg-example.sh URLFILE NAME PROGRAM [EXTRA-QUERY]
#
# URLFILE is the fixture's url file; the schema "ex_NAME" is dropped and
# created with psql, and PROGRAM runs with the URL (plus "&EXTRA-QUERY")
# as argv[1] and PGOPTIONS pointing search_path at the schema.  No URL (no
# server could be started): exit 77, which ctest shows as skipped.
set -eu
urlfile=$1 name=$2 prog=$3 extra=${4:-}
url=$(head -n 1 "$urlfile" 2>/dev/null || true)
if [ -z "$url" ]; then
    echo "SKIP: no PostgreSQL test server ($urlfile has no URL)" >&2
    exit 77
fi
psql=$(command -v psql || true)
if [ -z "$psql" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/psql" ] && psql=$d/psql
    done
fi
[ -n "$psql" ] || { echo "pg-example: no psql found" >&2; exit 1; }
schema=ex_$name
"$psql" -q -v ON_ERROR_STOP=1 -d "$url" \
    -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" \
    >/dev/null
[ -z "$extra" ] || url="$url&$extra"
PGOPTIONS="${PGOPTIONS:+$PGOPTIONS }-c search_path=$schema" exec "$prog" "$url"
