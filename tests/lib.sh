# Shared test helpers (sourced by integration.sh, demo.sh, bench.sh).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HPACK=$ROOT/build/hpack
SAMPLES=$ROOT/build/samples
. "$ROOT/tests/jdks.sh"

J25=$(hpk_find_jdk 25 || true)
J17=$(hpk_find_jdk 17 || true)

# A jlinked Temurin 25 runtime for the sample apps, made once per build dir.
rt25() {
    local rt=$ROOT/build/rt25
    if [ ! -x "$rt/bin/java" ]; then
        [ -n "$J25" ] || { echo "JDK 25 (Temurin) not found under /usr/lib/jvm" >&2; return 1; }
        rm -rf "$rt.tmp"
        "$J25/bin/jlink" --add-modules java.base,java.logging,jdk.httpserver \
            --strip-debug --no-header-files --no-man-pages --output "$rt.tmp" >&2 || return 1
        mv "$rt.tmp" "$rt"
    fi
    echo "$rt"
}

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
