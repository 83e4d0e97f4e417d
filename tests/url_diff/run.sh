#!/bin/sh
# ctest's url_diff:  sh run.sh <url_dump> <docs/urls.md>
#
# Runs url_diff.py with the first Python 3 that has SQLAlchemy 1.4 (the
# Debian package python3-sqlalchemy) of: python3 on the PATH, then
# /usr/bin/python3 (a PATH may put another Python first, e.g. pyenv's) --
# or only $DBCONN_PYTHON when that is set.  Without one the test is skipped (exit 77,
# ctest's SKIP_RETURN_CODE) with the reason printed -- except in CI
# (CI=true), where the comparison must run, so a missing package fails.
dir=$(dirname "$0")
found=
for py in ${DBCONN_PYTHON:-python3 /usr/bin/python3}; do
    command -v "$py" >/dev/null 2>&1 || continue
    found="$found $py"
    if "$py" -c 'import sys, sqlalchemy
sys.exit(not sqlalchemy.__version__.startswith("1.4."))' 2>/dev/null; then
        exec "$py" "$dir/url_diff.py" --dump "$1" --docs "$2"
    fi
done
if [ -n "$found" ]; then
    why="no SQLAlchemy 1.4 for${found}: install the Debian package python3-sqlalchemy"
else
    why="no python3: install the Debian packages python3 python3-sqlalchemy"
fi
if [ "${CI:-}" = true ]; then
    echo "url_diff: FAILED: $why (CI=true: the comparison must run)"
    exit 1
fi
echo "url_diff: SKIPPED: $why"
exit 77
