#!/bin/sh
# A throwaway PostgreSQL cluster for the tests and benchmarks.
#
#   sh scripts/pg-test-server.sh start DIR    initdb + start; prints the URL
#   sh scripts/pg-test-server.sh stop DIR     stop and delete DIR
#   sh scripts/pg-test-server.sh restart DIR  stop (fast) and start again
#   sh scripts/pg-test-server.sh halt DIR     stop, keeping DIR (start-again
#                                             restarts it on the same port)
#   sh scripts/pg-test-server.sh start-again DIR
#   sh scripts/pg-test-server.sh url DIR      the unix-socket URL
#   sh scripts/pg-test-server.sh fixture-start DIR   start for ctest: when no
#       server can be started, DIR/unavailable says why and the exit status
#       is 0 (the tests then skip visibly) -- unless CI=true, where it fails.
#
# DIR must be new or empty (start creates it), and its parents
# traversable by the server's user.  The cluster lives in DIR/data, its
# unix socket in DIR, its log in DIR/log; it listens on 127.0.0.1 only, on a
# free port.  Local (socket) connections are trusted; TCP ones need the
# password of the superuser "postgres", which has characters a URL must
# percent-encode.  start writes:
#   DIR/url      postgresql://postgres@:PORT/postgres?host=DIR
#   DIR/url-tcp  postgresql://postgres:<encoded password>@127.0.0.1:PORT/postgres
#   DIR/port
# The server refuses to run as root: invoked as root, the script runs
# initdb and pg_ctl as the user "nobody" (DIR is chown'ed to it).  If any
# stage of start fails, what was started is stopped and DIR is deleted.
# The binaries: $PG_BINDIR, else initdb on PATH, else the newest
# /usr/lib/postgresql/*/bin.
set -eu

PASSWORD='p@ss:w/rd %x'
PASSWORD_ENCODED='p%40ss%3Aw%2Frd%20%25x'

die() {
    echo "pg-test-server: $*" >&2
    exit 1
}

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        echo "$PG_BINDIR"
        return
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    best=
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && best=$d
    done
    [ -n "$best" ] || die "no PostgreSQL server binaries (initdb) found:" \
        "install the Debian package postgresql, or set PG_BINDIR"
    # The glob sorts 10 before 9; prefer the highest version number.
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] || continue
        v=$(basename "$(dirname "$d")")
        bv=$(basename "$(dirname "$best")")
        [ "$v" -gt "$bv" ] 2>/dev/null && best=$d
    done
    echo "$best"
}

# Runs a server binary as the cluster's owner: nobody when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" \
            --clear-groups -- "$@"
    else
        "$@"
    fi
}

# A random port in 20000-49999; the server's bind is the test of whether
# it is free (start tries another one when it is not).
random_port() {
    echo $(( $(od -An -N2 -tu2 /dev/urandom) % 30000 + 20000 ))
}

# Percent-encodes what a URL query value cannot hold literally.
query_encode() {
    printf '%s' "$1" | sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's/&/%26/g' \
        -e 's/=/%3D/g' -e 's/#/%23/g' -e 's/+/%2B/g' -e 's/?/%3F/g'
}

pg_start() { # dir port
    as_owner "$BIN/pg_ctl" -D "$1/data" -l "$1/log" -w -t 60 \
        -o "-p $2 -k $1" start >/dev/null
}

write_urls() { # dir port
    printf '%s\n' "$2" >"$1/port"
    printf 'postgresql://postgres@:%s/postgres?host=%s\n' "$2" \
        "$(query_encode "$1")" >"$1/url"
    printf 'postgresql://postgres:%s@127.0.0.1:%s/postgres\n' \
        "$PASSWORD_ENCODED" "$2" >"$1/url-tcp"
}

cmd_start() {
    dir=$1
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
        die "$dir is not empty: start needs a new or empty directory"
    fi
    case $dir in /*) ;; *) dir="$(pwd)/$dir" ;; esac
    BIN=$(find_bindir)
    mkdir -p "$dir"
    started=
    # Any failure below: stop what was started, delete the directory.
    trap 'st=$?; if [ "$st" -ne 0 ]; then
              [ -n "$started" ] && as_owner "$BIN/pg_ctl" -D "$dir/data" \
                  -m immediate stop >/dev/null 2>&1
              [ -f "$dir/log" ] && tail -n 20 "$dir/log" >&2
              rm -rf "$dir"; fi' EXIT
    chmod 700 "$dir"
    [ "$(id -u)" -ne 0 ] || chown nobody "$dir"
    printf '%s\n' "$PASSWORD" >"$dir/pwfile"
    [ "$(id -u)" -ne 0 ] || chown nobody "$dir/pwfile"
    as_owner "$BIN/initdb" -D "$dir/data" -U postgres -A trust \
        --auth-host=scram-sha-256 --pwfile="$dir/pwfile" -E UTF8 \
        --locale=C -N >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    rm -f "$dir/pwfile"
    # Throwaway data: no fsync.  Small memory: several clusters may run at
    # once on a shared machine.
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
fsync = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 60
max_wal_size = 256MB
log_min_messages = warning
EOF
    tries=0
    while :; do
        port=$(random_port)
        if pg_start "$dir" "$port"; then
            break
        fi
        tries=$((tries + 1))
        [ "$tries" -lt 5 ] || die "the server did not start (see above)"
    done
    started=1
    write_urls "$dir" "$port"
    trap - EXIT
    cat "$dir/url"
}

cmd_stop() {
    dir=$1
    [ -d "$dir" ] || return 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        BIN=$(find_bindir)
        as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ||
            as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate stop \
                >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

cmd_halt() {
    BIN=$(find_bindir)
    as_owner "$BIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null
}

cmd_start_again() {
    BIN=$(find_bindir)
    pg_start "$1" "$(cat "$1/port")"
}

cmd_restart() {
    cmd_halt "$1"
    cmd_start_again "$1"
}

cmd_fixture_start() {
    dir=$1
    # A cluster left by an interrupted run: stop its server, delete it.
    cmd_stop "$dir" 2>/dev/null || rm -rf "$dir"
    if out=$( (cmd_start "$dir") 2>&1); then
        echo "PostgreSQL test server: $(cat "$dir/url")"
        return 0
    fi
    printf '%s\n' "$out" >&2
    if [ "${CI:-}" = true ]; then
        die "no PostgreSQL test server could be started (CI=true: failing)"
    fi
    mkdir -p "$dir"
    printf '%s\n' "$out" | tail -n 1 >"$dir/unavailable"
    echo "PostgreSQL test server unavailable: the PostgreSQL tests will skip"
}

[ $# -eq 2 ] || die "usage: $0 start|stop|restart|halt|start-again|url|fixture-start DIR"
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
restart) cmd_restart "$2" ;;
halt) cmd_halt "$2" ;;
start-again) cmd_start_again "$2" ;;
url) cat "$2/url" ;;
fixture-start) cmd_fixture_start "$2" ;;
*) die "unknown command \"$1\"" ;;
esac
