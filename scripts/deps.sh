# Shared by scripts/quickstart.sh and scripts/test.sh (sourced, POSIX sh):
# installs the Debian packages libdbconn needs, only when one is missing.
# .ci/run installs its larger set itself.

DBCONN_DEBIAN_PACKAGES="build-essential cmake pkg-config libsqlite3-dev libuv1-dev libcmocka-dev libjansson-dev"

dbconn_install_deps() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "note: not a Debian system, installing nothing: libdbconn needs a" \
             "C11 compiler, CMake >= 3.16, pkg-config, SQLite3, libuv," \
             "jansson and CMocka (development files)" >&2
        return 0
    fi
    missing=
    for pkg in $DBCONN_DEBIAN_PACKAGES; do
        # What `dpkg -s` reports, minus packages removed but not purged.
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
            grep -q 'install ok installed' || missing="$missing $pkg"
    done
    if [ -z "$missing" ]; then
        return 0
    fi
    if [ "$(id -u)" -eq 0 ]; then
        as_root=
    elif command -v sudo >/dev/null 2>&1; then
        as_root=sudo
    else
        echo "error: missing Debian packages:$missing; run as root or" \
             "install sudo" >&2
        return 1
    fi
    echo "Installing missing Debian packages:$missing"
    # shellcheck disable=SC2086 # $missing is a list of package names
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get update &&
        $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
}

# Configures (Debug: assertions on) and builds in build/, from the repo root.
dbconn_build() {
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug
    cmake --build build -j2
}
